"""Write data/sample/bill-of-rights.pdf: the Preamble and the first ten amendments.

The text is that of the United States Constitution, a public-domain work of the US government.
Run with `.venv/bin/python data/make_pdf.py` (needs reportlab, in the dev extra).
"""

from pathlib import Path

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

PREAMBLE = (
    "We the People of the United States, in Order to form a more perfect Union, establish "
    "Justice, insure domestic Tranquility, provide for the common defence, promote the general "
    "Welfare, and secure the Blessings of Liberty to ourselves and our Posterity, do ordain and "
    "establish this Constitution for the United States of America."
)
AMENDMENTS = [
    "Congress shall make no law respecting an establishment of religion, or prohibiting the "
    "free exercise thereof; or abridging the freedom of speech, or of the press; or the right of "
    "the people peaceably to assemble, and to petition the Government for a redress of "
    "grievances.",
    "A well regulated Militia, being necessary to the security of a free State, the right of "
    "the people to keep and bear Arms, shall not be infringed.",
    "No Soldier shall, in time of peace be quartered in any house, without the consent of the "
    "Owner, nor in time of war, but in a manner to be prescribed by law.",
    "The right of the people to be secure in their persons, houses, papers, and effects, against "
    "unreasonable searches and seizures, shall not be violated, and no Warrants shall issue, but "
    "upon probable cause, supported by Oath or affirmation, and particularly describing the "
    "place to be searched, and the persons or things to be seized.",
    "No person shall be held to answer for a capital, or otherwise infamous crime, unless on a "
    "presentment or indictment of a Grand Jury, except in cases arising in the land or naval "
    "forces, or in the Militia, when in actual service in time of War or public danger; nor "
    "shall any person be subject for the same offence to be twice put in jeopardy of life or "
    "limb; nor shall be compelled in any criminal case to be a witness against himself, nor be "
    "deprived of life, liberty, or property, without due process of law; nor shall private "
    "property be taken for public use, without just compensation.",
    "In all criminal prosecutions, the accused shall enjoy the right to a speedy and public "
    "trial, by an impartial jury of the State and district wherein the crime shall have been "
    "committed, which district shall have been previously ascertained by law, and to be "
    "informed of the nature and cause of the accusation; to be confronted with the witnesses "
    "against him; to have compulsory process for obtaining witnesses in his favor, and to have "
    "the Assistance of Counsel for his defence.",
    "In Suits at common law, where the value in controversy shall exceed twenty dollars, the "
    "right of trial by jury shall be preserved, and no fact tried by a jury, shall be otherwise "
    "re-examined in any Court of the United States, than according to the rules of the common "
    "law.",
    "Excessive bail shall not be required, nor excessive fines imposed, nor cruel and unusual "
    "punishments inflicted.",
    "The enumeration in the Constitution, of certain rights, shall not be construed to deny or "
    "disparage others retained by the people.",
    "The powers not delegated to the United States by the Constitution, nor prohibited by it to "
    "the States, are reserved to the States respectively, or to the people.",
]
NUMERALS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]


def main() -> None:
    styles = getSampleStyleSheet()
    story = [
        Paragraph("The Preamble and the Bill of Rights", styles["Title"]),
        Paragraph("Preamble to the Constitution of the United States", styles["Heading2"]),
        Paragraph(PREAMBLE, styles["BodyText"]),
        Spacer(1, 12),
        Paragraph(
            "The first ten amendments to the Constitution, known as the Bill of Rights, were "
            "ratified on December 15, 1791.",
            styles["BodyText"],
        ),
    ]
    for index, (numeral, text) in enumerate(zip(NUMERALS, AMENDMENTS, strict=True)):
        if index == 5:
            story.append(PageBreak())
        story.append(Paragraph(f"Amendment {numeral}", styles["Heading2"]))
        story.append(Paragraph(text, styles["BodyText"]))
    target = Path(__file__).parent / "sample" / "bill-of-rights.pdf"
    document = SimpleDocTemplate(
        str(target),
        pagesize=LETTER,
        title="The Preamble and the Bill of Rights",
        author="United States Constitution (public domain)",
        invariant=1,
    )
    document.build(story)


if __name__ == "__main__":
    main()
