from collections.abc import Callable

from api.keyring import KeyRing
from rag.settings import ApiKey
from rag.storage import Database
from rag.storage.secrets import shared_secret


def test_every_replica_reads_the_secret_the_first_one_made(
    open_replica: Callable[[], Database],
) -> None:
    first, second = open_replica(), open_replica()

    made = shared_secret(first, "api_key_ids")

    assert len(made) == 32
    assert shared_secret(second, "api_key_ids") == made
    assert shared_secret(second, "another") != made


def test_two_replicas_give_a_key_the_same_owner_id(open_replica: Callable[[], Database]) -> None:
    key = ApiKey.model_validate({"secret": "alice-key-0123456789", "role": "user"})

    ids = {KeyRing.open(open_replica(), [key]).key_id_of(key) for _ in range(2)}

    assert len(ids) == 1
    assert "alice-key" not in ids.pop()
