"""The model repository behaves as Azure Digital Twins does, and survives a restart."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from support import FACTORY_MODELS, shared_data
from twinsight.core.clock import ManualClock
from twinsight.core.errors import Conflict, NotFound
from twinsight.hub import Hub
from twinsight.models.diagnostics import Document, DtdlParseError
from twinsight.models.loader import load_paths

MACHINE = "dtmi:twinsight:factory:Machine;1"
MOTOR = "dtmi:twinsight:factory:Motor;1"
BEARING = "dtmi:twinsight:factory:Bearing;1"


def factory_documents() -> list[Document]:
    docs, errors = load_paths([FACTORY_MODELS])
    assert errors == []
    return docs


def interface(dtmi: str, **extra: Any) -> dict[str, Any]:
    return {"@context": "dtmi:dtdl:context;3", "@id": dtmi, "@type": "Interface", **extra}


def test_add_get_and_list(hub: Hub, clock: ManualClock) -> None:
    added = hub.models.add(factory_documents())
    assert len(added) == 8 == len(hub.models)
    motor = hub.models.get(MOTOR)
    assert motor.display_name == {"en": "Electric motor"}
    assert motor.upload_time == clock.now()
    assert motor.definition["extends"] == MACHINE
    assert not motor.decommissioned
    assert [m.id for m in hub.models.list_models()] == [m.id for m in added]


def test_list_with_dependencies_is_transitive(hub: Hub) -> None:
    hub.models.add(factory_documents())
    ids = {m.id for m in hub.models.list_models([MOTOR])}
    assert ids == {MOTOR, MACHINE, BEARING}


def test_existing_model_is_refused(hub: Hub) -> None:
    hub.models.add(factory_documents())
    with pytest.raises(Conflict) as info:
        hub.models.add([Document("again", interface(MOTOR))])
    assert info.value.code == "ModelAlreadyExists"
    assert MOTOR in info.value.message


def test_batch_with_one_invalid_model_adds_none(hub: Hub) -> None:
    good = interface(
        "dtmi:x:Good;1", contents=[{"@type": "Property", "name": "a", "schema": "double"}]
    )
    bad = interface("dtmi:x:Bad;1", contents=[{"@type": "Property", "name": "b", "schema": "nope"}])
    with pytest.raises(DtdlParseError) as info:
        hub.models.add([Document("upload", [good, bad])])
    assert len(hub.models) == 0
    assert any((e.element and "Bad" in e.element) or "/1" in e.pointer for e in info.value.errors)


def test_unresolved_reference_is_refused_with_its_dtmi(hub: Hub) -> None:
    lonely = interface("dtmi:x:Lonely;1", extends="dtmi:x:Missing;1")
    with pytest.raises(DtdlParseError) as info:
        hub.models.add([Document("upload", lonely)])
    assert "dtmi:x:Missing;1" in info.value.unresolved
    assert len(hub.models) == 0


def test_new_models_may_refer_to_stored_ones(hub: Hub) -> None:
    hub.models.add(factory_documents())
    mixer = interface("dtmi:x:Mixer;1", extends=MOTOR)
    hub.models.add([Document("upload", mixer)])
    assert "windingTemperature" in hub.models.model_set.interface("dtmi:x:Mixer;1").contents


def test_delete_of_a_referenced_model_is_refused(hub: Hub) -> None:
    hub.models.add(factory_documents())
    with pytest.raises(Conflict) as info:
        hub.models.delete(MACHINE)
    assert info.value.code == "ModelReferencesNotDeleted"
    assert MOTOR in info.value.message
    assert MACHINE in hub.models


def test_delete_leaves_and_then_the_rest(hub: Hub) -> None:
    hub.models.add(factory_documents())
    for dtmi in ["dtmi:twinsight:factory:Site;1", "dtmi:twinsight:factory:ProductionLine;1"]:
        hub.models.delete(dtmi)
    assert "dtmi:twinsight:factory:Site;1" not in hub.models.model_set
    with pytest.raises(NotFound) as info:
        hub.models.get("dtmi:twinsight:factory:Site;1")
    assert info.value.code == "ModelNotFound"
    with pytest.raises(NotFound):
        hub.models.delete("dtmi:twinsight:factory:Site;1")


def test_decommission(hub: Hub) -> None:
    hub.models.add(factory_documents())
    assert hub.models.decommission(MOTOR).decommissioned
    assert hub.models.get(MOTOR).decommissioned
    with pytest.raises(NotFound):
        hub.models.decommission("dtmi:x:Nothing;1")


def test_models_survive_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    with Hub(tmp_path, clock=clock) as hub:
        hub.models.add(factory_documents())
        hub.models.decommission(MOTOR)
        hub.models.delete("dtmi:twinsight:factory:Site;1")
    with Hub(tmp_path, clock=clock) as hub:
        assert len(hub.models) == 7
        assert hub.models.get(MOTOR).decommissioned
        assert hub.models.get(MOTOR).upload_time == clock.now()
        original = json.loads((FACTORY_MODELS / "Motor.json").read_text())
        assert hub.models.get(MOTOR).definition == original


def test_stored_definition_is_not_shared_with_the_caller(hub: Hub) -> None:
    doc = interface(
        "dtmi:x:Own;1", contents=[{"@type": "Property", "name": "a", "schema": "double"}]
    )
    before = copy.deepcopy(doc)
    hub.models.add([Document("upload", doc)])
    doc["contents"].clear()
    assert hub.models.get("dtmi:x:Own;1").definition == before


@pytest.mark.slow
@pytest.mark.parametrize(("folder", "count"), [("realestatecore", 767), ("smartcities", 63)])
def test_whole_ontologies_import_unchanged(
    tmp_path: Path, clock: ManualClock, folder: str, count: int
) -> None:
    docs, errors = load_paths([shared_data() / "dtdl" / folder])
    assert errors == []
    with Hub(tmp_path, clock=clock) as hub:
        assert len(hub.models.add(docs)) == count
    with Hub(tmp_path, clock=clock) as hub:
        assert len(hub.models) == count
