"""The Spanish strings call the meter "medidor" and address the reader as "usted"."""

from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

import pytest

SPANISH = Path(__file__).parents[2] / "custom_components" / "microstar_dlms" / "translations"

# Words that only a "tú" text uses: pronouns, second-person verbs, imperatives with a pronoun.
TU_WORDS = frozenset(
    {
        "tú", "tu", "tus", "te", "ti", "contigo", "tuyo", "tuya", "tuyos", "tuyas",
        "puedes", "debes", "tienes", "quieres", "necesitas", "estás", "eres", "sabes", "has",
        "déjala", "déjalo", "inténtalo", "escríbelo", "compruébalo", "asegúrate", "conéctate",
    }
)  # fmt: skip
# "Tú" imperatives that read as "usted" third person elsewhere ("Home Assistant abre una
# sesión", "como lo escribe la guía"): a fault where an instruction starts, after a sentence
# break, a comma, a bracket or a joining "o"/"y".
TU_IMPERATIVES = (
    "abre", "añade", "aumenta", "cambia", "cierra", "comprueba", "conecta", "consulta", "deja",
    "desconecta", "elige", "escribe", "espera", "introduce", "prueba", "pulsa", "reconfigura",
    "revisa", "selecciona", "usa", "vuelve",
)  # fmt: skip
INSTRUCTION = re.compile(
    r"(?:(?:^|[.;:,(\n¿¡-])\s*(?:[oy]\s+)?|\s[oy]\s+)(" + "|".join(TU_IMPERATIVES) + r")\b",
    re.IGNORECASE,
)


def _strings() -> Iterator[tuple[str, str]]:
    def leaves(tree: dict[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
        for key, value in tree.items():
            if isinstance(value, dict):
                yield from leaves(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    yield from leaves(json.loads((SPANISH / "es.json").read_text("utf-8")), "")


STRINGS = dict(_strings())


def test_the_meter_is_always_medidor() -> None:
    """One word for the meter; a counter is worded without "contador" (no reader trips on it)."""
    mixed = {key: text for key, text in STRINGS.items() if "contador" in text.lower()}
    assert not mixed
    assert sum("medidor" in text.lower() for text in STRINGS.values()) > 50


@pytest.mark.parametrize(
    ("text", "tu"),
    [
        ("Revisa el SAP de cliente.", True),
        ("Cierre el programa o espera 2 minutos.", True),
        ("Desconecte la alimentación (o abre su interruptor).", True),
        ("Si no responde, revisa la configuración.", True),
        ("Puedes dejarla vacía: tu contraseña se conserva.", True),
        ("Home Assistant abre una sesión y se vuelve a leer el medidor.", False),
        ("Revise el SAP de cliente o espere 2 minutos; compruebe la pantalla.", False),
    ],
)
def test_the_tu_check_tells_the_registers_apart(text: str, tu: bool) -> None:
    """The check below finds "tú" instructions and leaves "usted" and third-person text alone."""
    assert bool(_tu_forms(text)) is tu


def test_the_reader_is_usted_everywhere() -> None:
    """No "tú" form in any Spanish string: imperatives, pronouns or second-person verbs."""
    found = {key: forms for key, text in STRINGS.items() if (forms := _tu_forms(text))}
    assert not found


def _tu_forms(text: str) -> list[str]:
    words = [word for word in re.findall(r"\w+", text.lower()) if word in TU_WORDS]
    return words + [match.group(1) for match in INSTRUCTION.finditer(text)]
