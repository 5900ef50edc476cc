import numpy as np
import pytest

from fer_helpers.labels import CKPLUS, FER2013, FERPLUS, canonical


def test_fer2013_to_ckplus_mapping_is_explicit():
    # FER2013: 0 Angry 1 Disgust 2 Fear 3 Happy 4 Sad 5 Surprise 6 Neutral
    # CK+:     0 neutral 1 anger 2 contempt 3 disgust 4 fear 5 happy 6 sadness 7 surprise
    assert FER2013.mapping_to(CKPLUS).tolist() == [1, 3, 4, 5, 6, 7, 0]


def test_ckplus_to_fer2013_has_no_contempt():
    assert CKPLUS.mapping_to(FER2013).tolist() == [6, 0, -1, 1, 2, 3, 4, 5]
    assert CKPLUS.convert([2, 5, -1], FER2013).tolist() == [-1, 3, -1]


def test_round_trip_keeps_every_shared_class():
    codes = np.arange(7)
    back = CKPLUS.convert(FER2013.convert(codes, CKPLUS), FER2013)
    assert back.tolist() == codes.tolist()


def test_ferplus_order():
    assert FERPLUS.mapping_to(CKPLUS).tolist() == [0, 5, 7, 6, 1, 3, 4, 2]


def test_names_and_errors():
    assert canonical("Happy") == "happiness" and canonical(" ANGRY ") == "anger"
    with pytest.raises(ValueError, match="unknown emotion"):
        canonical("bored")
    with pytest.raises(ValueError, match="no class in label space"):
        FER2013.code("contempt")
    with pytest.raises(ValueError, match="outside"):
        FER2013.convert([7], CKPLUS)
