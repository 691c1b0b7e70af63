"""ModelState: the choice and the weights the Model panel changes and the others follow.

No Qt here: the state is plain Python (tests/app imports no PySide6)."""

from __future__ import annotations

import pytest

from resnet_studio.app.model import DEFAULT_CHOICE, ModelState, save_weights_job, weights_text
from resnet_studio.core.catalog import ModelChoice


@pytest.fixture
def state():
    return ModelState()


@pytest.fixture
def events(state):
    seen: list[tuple] = []
    state.changed.connect(lambda choice, weights: seen.append(("changed", choice, weights)))
    state.weights_dropped.connect(lambda choice: seen.append(("dropped", choice)))
    return seen


@pytest.fixture(scope="module")
def c20_weights(tmp_path_factory):
    """A real core LoadResult for cifar-resnet20 (weights of ours, with metadata)."""
    from resnet_studio.core.weights import load_weights

    path = tmp_path_factory.mktemp("weights") / "c20.safetensors"
    save_weights_job(ModelChoice("cifar-resnet20"), None, str(path))
    return load_weights("cifar-resnet20", str(path))


def test_the_choice_is_always_resolved(state, events):
    assert state.choice == DEFAULT_CHOICE.resolved() == ModelChoice("cifar-resnet20", 10, "A")
    state.set_choice(ModelChoice("ResNet50"))
    assert state.choice == ModelChoice("resnet50", 1000, "B")
    assert events == [("changed", ModelChoice("resnet50", 1000, "B"), None)]
    state.set_choice(ModelChoice("resnet50", 1000, "B"))  # the same network: nothing happens
    assert len(events) == 1
    state.set_choice(ModelChoice("cifar-plain20", shortcut=None))
    assert state.choice.shortcut is None  # plain nets have no shortcut option


def test_weights_set_the_choice_and_another_choice_drops_them(state, events, c20_weights):
    state.set_weights(c20_weights)
    assert state.choice == ModelChoice("cifar-resnet20", 10, "A")
    assert state.weights is c20_weights
    assert events[-1] == ("changed", state.choice, c20_weights)
    state.set_choice(ModelChoice("cifar-resnet20", 10, "A"))  # same network: weights stay
    assert state.weights is c20_weights
    state.set_choice(ModelChoice("cifar-resnet32"))
    assert state.weights is None
    assert events[-2:] == [("dropped", ModelChoice("cifar-resnet32", 10, "A")),
                           ("changed", ModelChoice("cifar-resnet32", 10, "A"), None)]


def test_clearing_weights_goes_back_to_random_initialisation(state, events, c20_weights):
    state.set_choice(ModelChoice("cifar-resnet32"))  # nothing ships for it
    events.clear()
    state.clear_weights()  # nothing loaded: no event
    assert events == []
    state.set_weights(c20_weights)
    state.clear_weights()
    assert state.weights is None and events[-1] == ("changed", state.choice, None)
    assert state.choice.name == "cifar-resnet20"


def test_a_net_that_ships_trained_wants_those_weights_until_random_is_chosen(state, events, c20_weights):
    from resnet_studio.core.weights.shipped import shipped_weights

    assert state.wanted_shipped == shipped_weights("cifar-resnet20") is not None  # the default net
    assert not state.random_chosen
    state.clear_weights()  # "Random weights": the pending load is off, and the panels hear it
    assert state.wanted_shipped is None and state.random_chosen
    assert events == [("changed", state.choice, None)]
    state.use_shipped()  # "Trained weights"
    assert state.wanted_shipped is not None and not state.random_chosen
    state.set_weights(c20_weights)  # loaded (here: other weights of the same net)
    assert state.wanted_shipped is None and not state.random_chosen
    state.set_choice(ModelChoice("cifar-resnet32"))
    assert state.wanted_shipped is None  # nothing ships for it
    state.clear_weights()
    state.set_choice(ModelChoice("cifar-plain20"))  # a new choice forgets the random request
    assert state.wanted_shipped == shipped_weights("cifar-plain20")


def test_preprocessing_follows_the_choice_and_the_weights(state, c20_weights):
    assert state.preprocessing.input_size == 32
    state.set_choice(ModelChoice("resnet18"))
    assert (state.preprocessing.input_size, state.preprocessing.resize_size) == (224, 256)
    state.set_weights(c20_weights)
    assert state.preprocessing == c20_weights.preprocessing or c20_weights.preprocessing is None


def test_saved_weights_keep_their_network_and_describe_themselves(tmp_path, c20_weights):
    from resnet_studio.core.weights import load_weights

    path = save_weights_job(ModelChoice("cifar-resnet20"), c20_weights, str(tmp_path / "again.safetensors"))
    result = load_weights(None, path)
    assert result.model_name == "cifar-resnet20" and result.model.fc.out_features == 10
    text = weights_text(result)
    assert text.startswith("Loaded ") and "again.safetensors" in text and "tensors matched" in text


def test_the_model_layer_works_with_qt_unimportable():
    """pytest-qt imports PySide6 into this process, so look from a fresh one."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['PySide6'] = None\n"
            "from resnet_studio.app.model import ModelState, describe\n"
            "from resnet_studio.core.catalog import ModelChoice\n"
            "state = ModelState(); state.set_choice(ModelChoice('cifar-resnet20'))\n"
            "print(describe(state.choice).info.params)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": ":".join(sys.path)})
    assert out.stdout.strip() == "269722"  # Table 6: ResNet-20, 0.27M (option A)
