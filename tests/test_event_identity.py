"""An event's identity (place, speaker, figures, round) and the join decisions it drives.

The headlines are written for these tests, in the outlets' style; none is a labelled item.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.cluster import Clusterer, MemoryStoryIndex, fingerprint
from monitor.cluster.event import event_of
from monitor.cluster.gazetteer import compatible, finest, places_named
from monitor.cluster.identity import casualties, conflict, identity_of
from monitor.cluster.text import tokens

T0 = datetime(2026, 11, 3, 6, 0, tzinfo=UTC)


def _place(*reports: tuple[str, str, float]) -> list[int]:
    """Story ids of (title, lead, hours after T0) reports placed in that order."""
    clusterer = Clusterer(MemoryStoryIndex())
    return [
        clusterer.assign(
            f"i{n}", f"https://news.example/{n}", title, lead, T0 + timedelta(hours=h)
        ).story_id
        or 0
        for n, (title, lead, h) in enumerate(reports)
    ]


def test_gazetteer_names_the_finest_place_with_spelling_variants() -> None:
    assert places_named("Blast in D.I. Khan kills two") == {"dikhan"}
    assert places_named("Blast in Dera Ismail Khan kills two") == {"dikhan"}
    assert finest(places_named("Police van attacked in KP's Hangu")) == {"hangu"}
    assert finest(places_named("Ambush in North Waziristan's Datta Khel")) == {"dattakhel"}
    assert places_named("Qila Abdullah levies post attacked") == {"killaabdullah"}
    # A name that is also a word or a government is a place only after a place word.
    assert places_named("Kabul told to rein in militants") == frozenset()
    assert places_named("Drone strike reported in Kabul") == {"kabul"}
    assert places_named("Tank shelling heard across the border") == frozenset()


def test_places_are_compatible_when_one_lies_in_the_other_or_a_crossing_spans_both() -> None:
    assert compatible(frozenset({"kp"}), frozenset({"bannu"}))
    assert not compatible(frozenset({"bannu"}), frozenset({"northwaziristan"}))
    # Chaman and Spin Boldak are the two sides of one crossing, in Balochistan and Kandahar.
    assert places_named("Spin Boldak") == places_named("Chaman") == {"chaman"}
    assert compatible(frozenset({"chaman"}), frozenset({"balochistan"}))
    assert compatible(frozenset({"chaman"}), frozenset({"kandahar"}))
    assert not compatible(frozenset({"torkham"}), frozenset({"chaman"}))


def test_casualty_figures_go_to_the_nearest_casualty_word() -> None:
    assert casualties(tokens("Five children die, 19 hurt in Zhob gas blast")) == {
        "killed": 5,
        "injured": 19,
    }
    assert casualties(tokens("Security forces kill 12 terrorists in Tank")) == {"killed": 12}


def _conflict(a: str, b: str) -> str | None:
    return conflict(event_of(a), identity_of(a, tokens(a)), event_of(b), identity_of(b, tokens(b)))


def test_conflict_decisions() -> None:
    assert _conflict(
        "Militants attack check post in Bajaur, two soldiers martyred",
        "Militants attack check post in Kurram, two soldiers martyred",
    ) == ("different places (bajaur, kurram)")
    assert (
        _conflict(
            "Afghan forces fire on border posts near Torkham",
            "Pakistan Army responds to Afghan firing in Khyber district",
        )
        is None
    )  # Torkham lies in Khyber
    assert (
        _conflict(
            "Defence minister warns Kabul against sheltering militants",
            "Interior minister warns Kabul against sheltering militants",
        )
        == "different speakers"
    )
    assert (
        _conflict(
            "Six soldiers martyred as militants storm post in Mohmand",
            "Twenty soldiers martyred as militants storm post in Mohmand",
        )
        == "incompatible figures"
    )
    # A toll revised within a day is the same incident.
    assert (
        _conflict(
            "Eight soldiers martyred as militants storm post in Mohmand",
            "Toll rises to 11 soldiers martyred in Mohmand post attack",
        )
        is None
    )
    assert (
        _conflict(
            "Second round of Pakistan-Afghanistan talks opens in Istanbul",
            "Third round of Pakistan-Afghanistan talks opens in Istanbul",
        )
        == "different rounds"
    )


def test_speaker_is_the_attribution_not_every_name() -> None:
    said = event_of("Pakistan wants lasting peace with Afghanistan: Khawaja Asif tells envoy")
    assert said is not None and said.kind == "statement" and said.speakers == {"asif"}
    source = event_of("Pakistan, Afghanistan to hold talks in Doha on Sunday: FO")
    assert source is not None and source.kind == "talks"


def test_different_places_are_different_stories() -> None:
    """Same kind (a fight involving the Afghan side), an hour apart, other places."""
    ids = _place(
        (
            "TTP attack on check post near Afghan border kills six soldiers in Datta Khel",
            "Militants who crossed from Afghanistan stormed the post before dawn.",
            0,
        ),
        (
            "Kharlachi border crossing closed after exchange of fire with Afghan forces",
            "Afghan and Pakistani border forces exchanged fire near the crossing in Kurram.",
            1,
        ),
        (
            "Afghan forces open fire on border posts near Arandu",
            "Pakistani troops responded to the Afghan firing.",
            2,
        ),
    )
    assert len(set(ids)) == 3


def test_one_crossing_reworded_is_one_story() -> None:
    """Chaman and Spin Boldak are two names of one crossing: one closure."""
    ids = _place(
        (
            "Chaman crossing closed for trade and travellers",
            "Pakistani authorities shut the crossing with Afghanistan's Kandahar province.",
            0,
        ),
        (
            "Afghan officials suspend traffic at Spin Boldak gate",
            "Trucks queued on both sides of the Afghan border town.",
            3,
        ),
    )
    assert ids[0] == ids[1]


def test_different_speakers_are_different_stories() -> None:
    ids = _place(
        (
            "Defence minister warns Kabul of befitting response to cross-border attacks",
            "Pakistan will respond to any attack from Afghan soil, the minister said.",
            0,
        ),
        (
            "PM Shehbaz warns Kabul of befitting response to cross-border attacks",
            "Pakistan will respond to any attack from Afghan soil, the prime minister said.",
            1,
        ),
    )
    assert ids[0] != ids[1]


def test_a_statement_joins_only_its_speakers_same_occasion() -> None:
    """Remarks to reporters half an hour apart are one occasion; the same minister on
    another subject six hours later is another story."""
    ids = _place(
        (
            "Khawaja Asif says Kabul must hand over TTP leaders",
            "The defence minister spoke to reporters in Sialkot.",
            0,
        ),
        (
            "Afghan refugees will be repatriated on schedule, says Asif",
            "Speaking to reporters in Sialkot, the defence minister also said.",
            0.5,
        ),
        (
            "Asif urges Afghan traders to use Pakistani ports",
            "The defence minister addressed a business forum.",
            6.5,
        ),
    )
    assert ids[0] == ids[1] != ids[2]


def test_incompatible_casualty_figures_are_different_stories() -> None:
    ids = _place(
        (
            "Six soldiers martyred as terrorists attack convoy in Mohmand",
            "Terrorists ambushed a military convoy in Mohmand district.",
            0,
        ),
        (
            "25 soldiers martyred as terrorists attack convoy in Mohmand",
            "Terrorists ambushed a military convoy in Mohmand district.",
            2,
        ),
    )
    assert ids[0] != ids[1]


def test_fingerprint_carries_the_identity() -> None:
    fp = fingerprint("Three policemen martyred in Lakki Marwat ambush", "")
    assert fp.identity.places == {"lakkimarwat"}
    assert fp.identity.figures == (("martyred", 3),)


def test_talks_are_identified_by_their_host_named_in_headline_or_lead() -> None:
    lead = "Officials said the Qatar-mediated talks with the Afghan side ran past midnight."
    ident = fingerprint("Kabul asked to hand over militant commanders", lead).identity
    assert ident.talks and ident.hosts == {"qatar"} and not ident.host_in_title
    ident = fingerprint("Pak-Afghan delegations meet in Istanbul for talks", "").identity
    assert ident.hosts == {"turkiye"} and ident.host_in_title
    # A host named with no talks or truce spoken of is not a round.
    assert fingerprint("Qatar airline resumes Kabul flights", "").identity.hosts == frozenset()
    numbered = fingerprint("Fourth round of Pak-Afghan talks opens in Istanbul", "").identity
    assert numbered.numbered == {4}


def test_what_came_of_a_round_of_talks_joins_it() -> None:
    talks = ("Pakistan, Afghan Taliban delegations hold talks in Doha", "", 0.0)
    outcome_lead = "A day after the Qatar-mediated talks, officials said Kabul had pledged action."
    assert _place(
        talks,
        ("Kabul asked to act against TTP hideouts within weeks", outcome_lead, 17.0),
    ) == [1, 1]
    # Another host is another round; a round long over is over; a named speaker's
    # statement and an editorial's title are their own stories.
    other_lead = "After the Turkish-mediated talks, officials said Kabul had pledged action."
    assert _place(talks, ("Kabul asked to act against TTP hideouts", other_lead, 17.0)) == [1, 2]
    assert _place(talks, ("Kabul asked to act against TTP hideouts", outcome_lead, 60.0)) == [
        1,
        2,
    ]
    assert _place(
        talks, ("Kabul must act against TTP hideouts: Khawaja Asif", outcome_lead, 17.0)
    ) == [1, 2]
    assert _place(talks, ("Doha hopes", outcome_lead, 17.0)) == [1, 2]


def test_a_truce_sealed_the_next_day_at_the_same_host_is_the_truce_agreed() -> None:
    agreed = ("Pakistan, Afghanistan agree to truce at Doha talks", "", 0.0)
    sealed = ("Qatar, Turkiye help seal Pak-Afghan truce", "", 26.0)
    assert _place(agreed, sealed) == [1, 1]
    elsewhere = ("Saudi Arabia helps seal Pak-Afghan truce", "", 26.0)
    assert _place(agreed, elsewhere) == [1, 2]


def test_a_numbered_round_opens_a_new_round() -> None:
    stalled = ("Pak-Afghan talks in Istanbul stall over TTP guarantees", "", 0.0)
    fourth = ("Fourth round of Pak-Afghan talks opens in Istanbul", "", 9.0)
    assert _place(stalled, fourth) == [1, 2]
    # Within the hour it is one occasion written up twice; a story naming the round joins.
    assert _place(stalled, ("Fourth round of Pak-Afghan talks opens in Istanbul", "", 0.5)) == [
        1,
        1,
    ]
    assert _place(
        ("Pakistan, Afghanistan open fourth round of talks in Istanbul", "", 0.0),
        (*stalled[:2], 3.0),
        fourth,
    ) == [1, 1, 1]


def test_the_same_toll_within_hours_is_one_incident() -> None:
    foiled = ("Nine terrorists killed as forces foil infiltration from Afghanistan", "", 0.0)
    ops = ("Security forces kill 9 terrorists in two operations: ISPR", "", 0.5)
    assert _place(foiled, ops) == [1, 1]
    assert _place(foiled, ("Security forces kill 4 terrorists in two operations", "", 0.5)) == [
        1,
        2,
    ]
    assert _place(foiled, (*ops[:2], 9.0)) == [1, 2]  # the next morning's raid is another
    # A reaction that cites the toll is a statement, not the incident.
    assert _place(foiled, ("PM lauds forces for killing 9 terrorists", "", 0.5)) == [1, 2]


def test_closures_of_the_crossings_as_a_whole_are_one_decision() -> None:
    assert _place(
        ("Pakistan says Afghan crossings to stay closed", "", 0.0),
        ("Afghan transit trade to remain suspended over security: FO", "", 1.0),
    ) == [1, 1]
    assert _place(
        ("Pakistan says Afghan crossings to stay closed", "", 0.0),
        ("Torkham closed to Afghan transit trade", "", 1.0),
    ) == [1, 2]


def test_a_headline_opening_on_a_speakers_quotation_is_a_statement() -> None:
    quoted = event_of("‘The door to talks is open’: PM Shehbaz on Kabul")
    assert quoted is not None and quoted.kind == "statement" and quoted.speakers == {"pm"}
    # The same news announced by its source, not quoted, is the event itself.
    announced = event_of("Pakistan to hold talks with Kabul in Doha on Sunday: FO")
    assert announced is not None and announced.kind == "talks"
    # One occasion written up twice, quoted on different subjects, is one story.
    assert _place(
        ("‘The door to talks is open’: PM Shehbaz on Kabul", "", 0.0),
        ("'Kabul must choose between peace and proxies': PM Shehbaz", "", 0.5),
    ) == [1, 1]


def test_what_came_after_an_event_is_news_of_its_own() -> None:
    withdrew = ("Afghan side withdraws from quadrangular hockey cup in Lahore", "", 0.0)
    replaced = ("Oman invited after Afghan side withdraws from quadrangular hockey cup", "", 6.0)
    assert _place(withdrew, replaced) == [1, 2]
    # The same news reported "after" its cause is still that news.
    assert _place(
        ("Truce agreed at Doha talks between Pakistan and Afghanistan", "", 0.0),
        ("Pakistan, Afghanistan agree truce after Doha talks", "", 2.0),
    ) == [1, 1]
