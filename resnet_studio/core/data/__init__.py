"""Datasets and the on-device batch loader.

Two paths, chosen by image size (CONVENTIONS section 4):
- small images (<= 64 px: CIFAR, the synthetic set, small folders) live on the training
  device as ONE uint8 tensor [N,3,H,W]; `DeviceBatches` shuffles, pads, crops, flips and
  normalises whole batches there with a handful of tensor ops. uint8 is 4x smaller than
  float32 and decoding happens once, so an epoch costs no Python per sample.
- larger images (ImageNet-like folders) stream from disk through a torch `DataLoader`
  with workers and torchvision transforms v2 (`make_loader`).

Dataset specs accepted by `load_dataset`: "synthetic", "cifar10", "cifar100",
"folder:PATH" and "zip:PATH" (an ImageFolder tree, or a zip holding one).

Modules, each importing only the ones before it: `containers` (splits, normalisation),
`trees` (folders and zips scanned into ImageFolder trees), `decode` (bytes to uint8
tensors), `streaming` (large images through DataLoader workers), `archives` (a tree
decoded and cached, or streamed), `batches` (the on-device loader), `sources`
(`load_dataset`: synthetic, CIFAR, folders and zips; splits and statistics).
"""

from resnet_studio.core.data.batches import DeviceBatches, crop_flip, epoch_seed
from resnet_studio.core.data.containers import (
    IMAGE_EXTENSIONS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    SMALL_IMAGE_MAX,
    Dataset,
    ImageTensors,
    Normalize,
    NormKind,
    Progress,
)
from resnet_studio.core.data.decode import decode_images
from resnet_studio.core.data.sources import (
    default_root,
    image_statistics,
    load_dataset,
    split_train_val,
)
from resnet_studio.core.data.streaming import (
    ImageFiles,
    Transformed,
    describe,
    imagenet_transforms,
    make_loader,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_EXTENSIONS",
    "SMALL_IMAGE_MAX",
    "Dataset",
    "DeviceBatches",
    "ImageFiles",
    "ImageTensors",
    "NormKind",
    "Normalize",
    "Progress",
    "Transformed",
    "crop_flip",
    "decode_images",
    "default_root",
    "describe",
    "epoch_seed",
    "image_statistics",
    "imagenet_transforms",
    "load_dataset",
    "make_loader",
    "split_train_val",
]
