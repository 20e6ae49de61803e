"""Where an event happened: a gazetteer of the frontier's places, and the finest one named.

Owns `Place`, `PLACES_BY_ID`, `places_named` and `compatible`. The table is general
knowledge, not tuning: the provinces and regions of Pakistan, every district of Khyber
Pakhtunkhwa (the former tribal districts included) and of Balochistan, Afghanistan's
provinces and main cities, the border crossings, and the cities where talks between the two
are held. Each place has a level and the places it lies in, so "KP's Hangu" and "Hangu"
are the same place and "Bannu" and "North Waziristan" are not. A crossing lies in the
districts and provinces of both sides: a clash "at Spin Boldak" and "along the Balochistan
border" may be one event. Spelling variants are those outlets use (Dera Ismail Khan /
D.I. Khan / DI Khan; Killa / Qila Abdullah; Nangarhar / Ningarhar).

Pure: names are matched on text folded with `cluster.text.fold`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.cluster.text import PLACE_SCRIPTS, fold

__all__ = ["PLACES_BY_ID", "Place", "compatible", "finest", "places_named"]


@dataclass(frozen=True, slots=True)
class Place:
    id: str
    level: str  # province, district, city, crossing, venue
    within: frozenset[str]  # every place it lies in (transitively)


# id | level | directly within (space-separated ids) | name variants (comma-separated);
# a place whose variants do not fit one line takes several rows with the same id.
# Levels run province > district > city/town > crossing; a venue is a foreign city where
# talks meet. The first variant is the usual English spelling.
_TABLE = """
kp|province||khyber pakhtunkhwa, khyber-pakhtunkhwa, kp, k-p, kpk, nwfp
balochistan|province||balochistan, baluchistan
punjab|province||punjab
sindh|province||sindh
gb|province||gilgit-baltistan, gilgit baltistan
ajk|province||azad kashmir, azad jammu and kashmir, ajk
islamabad|province||islamabad, twin cities
abbottabad|district|kp|abbottabad
bajaur|district|kp|bajaur, bajour
bannu|district|kp|bannu
batagram|district|kp|battagram, batagram
buner|district|kp|buner
charsadda|district|kp|charsadda
chitral|district|kp|chitral, upper chitral, lower chitral
dikhan|district|kp|dera ismail khan, d.i. khan, d. i. khan, di khan, d i khan
hangu|district|kp|hangu
haripur|district|kp|haripur
karak|district|kp|karak
khyber|district|kp|khyber district, khyber tribal district, khyber agency
kohat|district|kp|kohat
kohistan|district|kp|kohistan, kolai palas
kurram|district|kp|kurram, upper kurram, lower kurram
lakkimarwat|district|kp|lakki marwat, lakki
malakand|district|kp|malakand
mansehra|district|kp|mansehra
mardan|district|kp|mardan
mohmand|district|kp|mohmand
northwaziristan|district|kp|north waziristan, n waziristan
southwaziristan|district|kp|south waziristan, s waziristan
southwaziristan|district|kp|upper south waziristan, lower south waziristan
nowshera|district|kp|nowshera
orakzai|district|kp|orakzai
peshawar|district|kp|peshawar
shangla|district|kp|shangla
swabi|district|kp|swabi
swat|district|kp|swat
tank|district|kp|tank district, tank
torghar|district|kp|torghar, tor ghar
dir|district|kp|dir, upper dir, lower dir
mirali|city|northwaziristan|mir ali
miranshah|city|northwaziristan|miranshah, miran shah, miramshah
dattakhel|city|northwaziristan|datta khel, dattakhel
razmak|city|northwaziristan|razmak
spinwam|city|northwaziristan|spinwam, shewa
wana|city|southwaziristan|wana
makeen|city|southwaziristan|makeen, makin
tirah|city|khyber|tirah, tirah valley
bara|city|khyber|bara
jamrud|city|khyber|jamrud
landikotal|city|khyber|landi kotal
parachinar|city|kurram|parachinar
sadda|city|kurram|sadda
darra|city|kohat|darra adamkhel, darra adam khel
kulachi|city|dikhan|kulachi
daraban|city|dikhan|daraban
domel|city|bannu|domel
quetta|district|balochistan|quetta
pishin|district|balochistan|pishin
killaabdullah|district|balochistan|killa abdullah, qila abdullah, qilla abdullah
chamandistrict|district|balochistan|chaman district
zhob|district|balochistan|zhob
sherani|district|balochistan|sherani
killasaifullah|district|balochistan|killa saifullah, qila saifullah, qilla saifullah
loralai|district|balochistan|loralai
musakhel|district|balochistan|musakhel, musa khel
barkhan|district|balochistan|barkhan
duki|district|balochistan|duki
harnai|district|balochistan|harnai
ziarat|district|balochistan|ziarat
sibi|district|balochistan|sibi
kohlu|district|balochistan|kohlu
derabugti|district|balochistan|dera bugti
nasirabad|district|balochistan|nasirabad
jaffarabad|district|balochistan|jaffarabad, jafarabad
jhalmagsi|district|balochistan|jhal magsi
kachhi|district|balochistan|kachhi, bolan
sohbatpur|district|balochistan|sohbatpur
ustamuhammad|district|balochistan|usta muhammad
kalat|district|balochistan|kalat
mastung|district|balochistan|mastung
surab|district|balochistan|surab
khuzdar|district|balochistan|khuzdar
awaran|district|balochistan|awaran
lasbela|district|balochistan|lasbela, hub
kharan|district|balochistan|kharan
washuk|district|balochistan|washuk
noshki|district|balochistan|noshki, nushki
chagai|district|balochistan|chagai, chaghi, dalbandin
panjgur|district|balochistan|panjgur
kech|district|balochistan|kech, turbat
gwadar|district|balochistan|gwadar
taftan|city|chagai|taftan
karachi|city|sindh|karachi
lahore|city|punjab|lahore
rawalpindi|city|punjab|rawalpindi
multan|city|punjab|multan
faisalabad|city|punjab|faisalabad
kabul|province||kabul
kandahar|province||kandahar, qandahar
nangarhar|province||nangarhar, ningarhar
kunar|province||kunar
khost|province||khost, khowst
paktika|province||paktika
paktia|province||paktia, paktiya
helmand|province||helmand
herat|province||herat
balkh|province||balkh, mazar-i-sharif, mazar-e-sharif, mazar i sharif
kunduz|province||kunduz
ghazni|province||ghazni
zabul|province||zabul
nimroz|province||nimroz
nuristan|province||nuristan
laghman|province||laghman
logar|province||logar
wardak|province||wardak, maidan wardak
parwan|province||parwan
bamyan|province||bamyan, bamiyan
badakhshan|province||badakhshan
takhar|province||takhar
baghlan|province||baghlan
faryab|province||faryab
jowzjan|province||jowzjan, jawzjan
sarepol|province||sar-e-pol, sar-i-pul
samangan|province||samangan
badghis|province||badghis
ghor|province||ghor
farah|province||farah
uruzgan|province||uruzgan, oruzgan
daykundi|province||daykundi, daikundi
kapisa|province||kapisa
panjshir|province||panjshir
jalalabad|city|nangarhar|jalalabad
bagram|city|parwan|bagram
barmal|city|paktika|barmal
lashkargah|city|helmand|lashkar gah
torkham|crossing|khyber nangarhar|torkham
chaman|crossing|chamandistrict killaabdullah kandahar|chaman, spin boldak, spinboldak
chaman|crossing|chamandistrict killaabdullah kandahar|friendship gate, bab-e-dosti
ghulamkhan|crossing|northwaziristan khost|ghulam khan
angooradda|crossing|southwaziristan paktika|angoor adda, angur adda
kharlachi|crossing|kurram paktia|kharlachi
terimangal|crossing|kurram paktia|teri mangal
badini|crossing|killasaifullah zabul kandahar|badini
nawapass|crossing|bajaur kunar|nawa pass
arandu|crossing|chitral kunar nuristan|arandu, arundu
gursal|crossing|bajaur kunar|gursal
doha|venue||doha, qatar
istanbul|venue||istanbul
ankara|venue||ankara
riyadh|venue||riyadh
tehran|venue||tehran
moscow|venue||moscow
beijing|venue||beijing
urumqi|venue||urumqi
"""


def _load() -> tuple[dict[str, Place], dict[str, str]]:
    rows: list[tuple[str, str, list[str], list[str]]] = []
    for line in _TABLE.strip().splitlines():
        pid, level, within, variants = line.split("|")
        rows.append((pid, level, within.split(), [n.strip() for n in variants.split(",")]))
    direct = {pid: within for pid, _, within, _ in rows}  # a repeated id: same place

    def ancestors(pid: str) -> frozenset[str]:
        out: set[str] = set()
        todo = list(direct[pid])
        while todo:
            p = todo.pop()
            if p not in out:
                out.add(p)
                todo.extend(direct[p])
        return frozenset(out)

    places = {pid: Place(pid, level, ancestors(pid)) for pid, level, _, _ in rows}
    names = {fold(n): pid for pid, _, _, variants in rows for n in variants}
    return places, names


PLACES_BY_ID, _NAMES = _load()
# The same places in Urdu, Pashto and Dari script, so that reports in those languages name
# the place an English report names (one story across languages). A name that also stands
# for a government (Kabul, Islamabad) is read as its English spelling is (`_AMBIGUOUS`).
_ENGLISH = {re.sub(r"[\s.-]+", "", n): pid for n, pid in _NAMES.items()}
_NAMES.update(
    (fold(name), _ENGLISH[token.replace(" ", "")])
    for name, token in PLACE_SCRIPTS
    if token.replace(" ", "") in _ENGLISH
)
# Longest names first, so "north waziristan" wins over "waziristan", "tank district" over
# "tank"; spaces, hyphens and dots between the parts of a name are interchangeable.
_NAME_RE = re.compile(
    r"(?<![\w-])("
    + "|".join(
        r"[\s.-]*".join(re.escape(part) for part in re.split(r"[\s.-]+", n) if part)
        for n in sorted(_NAMES, key=len, reverse=True)
    )
    + r")(?![\w-])"
)
_SQUEEZE = re.compile(r"[\s.-]+")
_BY_SQUEEZED = {_SQUEEZE.sub("", n): pid for n, pid in _NAMES.items()}
# Names that are also common words ("Tank" is a district and a weapon) or stand for a
# government ("Kabul told to act", "Islamabad pushes for a deal"): places only after a
# place preposition or a possessive ("in Tank", "KP's Tank", "strikes in Kabul").
_AMBIGUOUS = frozenset(
    {"tank", "hub", "bara", "dir", "lakki", "kech", "kabul", "islamabad", "tehran"}
    | {"moscow", "beijing", "ankara", "riyadh", "qatar"}
)
# A name ambiguous in English is so in the other scripts too; their place cues are
# postpositions, which the check below does not read, so there it never counts.
_AMBIGUOUS |= {_SQUEEZE.sub("", fold(name)) for name, token in PLACE_SCRIPTS if token in _AMBIGUOUS}
_PLACE_CUE = re.compile(r"(?:\bin|\bat|\bnear|'s|\bfrom|\bto|\band)\s+$")


def places_named(text: str) -> frozenset[str]:
    """Ids of the gazetteer places `text` names (any level)."""
    folded = fold(text).replace("’", "'")
    found: set[str] = set()
    for m in _NAME_RE.finditer(folded):
        name = _SQUEEZE.sub("", m[1])
        pid = _BY_SQUEEZED.get(name)
        if pid is None:
            continue
        if name in _AMBIGUOUS and not _PLACE_CUE.search(folded[max(0, m.start() - 8) : m.start()]):
            continue
        found.add(pid)
    return frozenset(found)


def finest(places: Iterable[str]) -> frozenset[str]:
    """The places named that no other named place lies in: "KP's Hangu" is Hangu."""
    named = frozenset(places)
    inside = frozenset().union(*(PLACES_BY_ID[p].within for p in named)) if named else named
    return named - inside


def _related(a: str, b: str) -> bool:
    return a == b or a in PLACES_BY_ID[b].within or b in PLACES_BY_ID[a].within


def compatible(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two reports' places can be one scene: either names none, or some place of
    one is, contains or lies in some place of the other."""
    if not a or not b:
        return True
    return any(_related(x, y) for x in a for y in b)
