import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

from misclass import InputError
from misclass.data import load_dataset


def test_digits_split_is_stratified_and_seeded():
    a, b = load_dataset("digits", seed=1), load_dataset("digits", seed=1)
    assert len(a) == 1797 and a.images.shape == (1797, 8, 8) and a.images.dtype == np.uint8
    test = a.split("test")
    assert len(test) == 360
    assert test.samples.sample_id.tolist() == b.split("test").samples.sample_id.tolist()
    # stratified: every class keeps its share of the test split to within one image
    full = np.bincount(a.labels, minlength=10) * 0.2
    assert np.all(np.abs(np.bincount(test.labels, minlength=10) - full) <= 1)
    assert load_dataset("digits", seed=2).split("test").samples.sample_id.tolist() != \
        test.samples.sample_id.tolist()


def _batch(n, seed):
    rng = np.random.default_rng(seed)
    return {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"labels": list(rng.integers(0, 10, n)),
            b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)]}


def _cifar_files(folder):
    folder.mkdir()
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(_batch(4, i)))
    (folder / "test_batch").write_bytes(pickle.dumps(_batch(3, 9)))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}))
    return folder


def test_cifar10_folder_and_tarball(tmp_path):
    folder = _cifar_files(tmp_path / "cifar-10-batches-py")
    ds = load_dataset(f"cifar10:{folder}")
    assert len(ds) == 23 and ds.images.shape == (23, 32, 32, 3)
    assert ds.classes.name.tolist()[:2] == ["airplane", "automobile"]
    assert (ds.samples.split == "test").sum() == 3
    raw = _batch(4, 1)[b"data"][0]
    assert ds.images[0, 0, 0].tolist() == [raw[0], raw[1024], raw[2048]]  # channel-last
    tgz = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    ds2 = load_dataset(f"cifar10:{tgz}")
    assert ds2.samples.equals(ds.samples) and np.array_equal(ds2.images, ds.images)


def test_cifar10_missing_batch(tmp_path):
    folder = _cifar_files(tmp_path / "c")
    (folder / "data_batch_3").unlink()
    with pytest.raises(InputError, match="missing CIFAR-10 files: data_batch_3"):
        load_dataset(f"cifar10:{folder}")


def _png(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((5, 5, 3), value, dtype=np.uint8)).save(path)


def test_folder_with_class_subfolders(tmp_path):
    for cls, n in (("b_dog", 2), ("a_cat", 3)):
        for i in range(n):
            _png(tmp_path / "imgs" / cls / f"{i}.png", i)
    ds = load_dataset(f"folder:{tmp_path / 'imgs'}")
    assert ds.classes.name.tolist() == ["a_cat", "b_dog"]
    assert ds.labels.tolist() == [0, 0, 0, 1, 1]
    assert ds.samples.sample_id.iloc[0] == "a_cat/0.png"


def test_flat_folder_with_csv(tmp_path):
    for i in range(3):
        _png(tmp_path / "flat" / f"{i}.png", i)
    (tmp_path / "flat" / "labels.csv").write_text("file_name,label\n0.png,dog\n1.png,cat\n2.png,dog\n")
    ds = load_dataset(f"folder:{tmp_path / 'flat'}")
    assert ds.classes.name.tolist() == ["cat", "dog"] and ds.labels.tolist() == [1, 0, 1]
    (tmp_path / "flat" / "labels.csv").write_text("file_name,label\n0.png,1\n9.png,0\n")
    with pytest.raises(InputError, match=r"1 listed files are not in .* \(first: '9.png'\)"):
        load_dataset(f"folder:{tmp_path / 'flat'}")


def test_unknown_spec():
    with pytest.raises(InputError, match="expected digits | cifar10:PATH"):
        load_dataset("mnist")


def test_imagenet_classes():
    pytest.importorskip("imagenet_x", reason="misclass[imagenet] not installed")
    from misclass.data import imagenet_classes, imagenet_val_labels

    c = imagenet_classes()
    assert len(c) == 1000 and c.id.iloc[0] == "n01440764" and c.name.iloc[0] == "tench"
    assert len(imagenet_val_labels()) == 50000


def test_store_images_from_arrays_and_dataset_folder(tmp_path):
    import pandas as pd

    from misclass.store import Store
    from misclass.store.images import StoreImages, fit_image

    classes = pd.DataFrame({"name": ["a", "b"]})
    arrays = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8)
    s = Store.create(tmp_path / "arr", samples=pd.DataFrame({"sample_id": ["x", "y"], "label": [0, 1]}),
                     classes=classes, images=arrays)
    assert np.array_equal(np.asarray(StoreImages(s).load(1)), arrays[1])
    # relative paths resolve against the dataset folder the store records, not the cwd
    root = tmp_path / "imgs"
    (root / "a").mkdir(parents=True)
    Image.new("RGB", (40, 30), (200, 10, 10)).save(root / "a" / "one.png")
    samples = pd.DataFrame({"sample_id": ["one", "two"], "label": [0, 0], "path": ["a/one.png", "a/two.png"]})
    s = Store.create(tmp_path / "files", samples=samples, classes=classes,
                     info={"dataset": f"folder:{root},labels.csv"})
    images = StoreImages(s)
    assert images.available and images.load(0).size == (40, 30)
    with pytest.raises(InputError, match=r"two\.png: not a readable image"):
        images.load(1)
    assert fit_image(Image.new("L", (8, 8)), 128).size == (128, 128)  # enlarged 16x, sharp
    assert fit_image(Image.new("RGB", (400, 300)), 128).size == (128, 96)  # shrunk, aspect kept
