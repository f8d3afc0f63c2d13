"""Pack what a GPU fine-tune of the default model needs into gpu_carry/ (the device tool's `carry`), under 64 MiB.

    python scripts/gpu_pack.py [--shared ../shared] [--budget-mib 63.5] [--quality 80] [--synthetic 600]

gpu_carry/train_data.tar holds:
- vgg.pth.xz: the fp16 VGG-16 up to relu4_3 (all the loss needs), xz-compressed;
- styles.safetensors.xz: the VGG statistics of every training painting at 256 px, fp16 (from the data cache, built
  here if missing): `train --style-statistics` trains on them without the images;
- synthetic.safetensors.xz (with --synthetic N > 0, default 600 as in the shipped model's last stage): the statistics
  of `train --synthetic-styles N`'s procedural styles (fp16, ~2 MB), the same table the CPU builds, so the GPU spends
  no lease time drawing them; scripts/gpu_train.sh passes it as a second --style-statistics table;
- style/: one painting (the sample grid's style);
- content/: 256 px centre squares of the photos as JPEG (what the data cache keeps of them), picked round-robin
  over the source folders until the budget is spent.
The init weights are the tracked mobilestyle/models/meta8.safetensors, which travels with the tree. The budget counts
the working tree that travels with every call (tracked + untracked-not-ignored files). See docs/training.md.
"""

from __future__ import annotations

import argparse
import io
import lzma
import random
import subprocess
import tarfile
from pathlib import Path

import torch
from safetensors.torch import save

from mobilestyle.data import list_images, readable_images
from mobilestyle.errors import MobilestyleError
from mobilestyle.images import center_crop_square, load_image
from mobilestyle.training.datasets import default_data_cache, style_statistics_table, synthetic_style_statistics
from mobilestyle.training.shen_fast import CONTENT_SIDE, STYLE_SIZE
from mobilestyle.vgg import VGGEncoder

REPO = Path(__file__).resolve().parents[1]
VGG_FP16 = "vgg16_caffe_features_to_relu4_3_fp16.pth"
MIB = 1 << 20


def travelling_tree_bytes() -> int:
    """Bytes of the files every device call sends (tracked + untracked files git does not ignore)."""
    listing = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True)
    return sum((REPO / name).stat().st_size for name in listing.stdout.decode().split("\0") if name and (REPO / name).is_file())


def round_robin(folders: list[Path], seed: int) -> list[Path]:
    """Images of each folder shuffled, then interleaved so every source is represented at any cut-off."""
    rng = random.Random(seed)
    lists = []
    for folder in folders:
        files = list_images(folder)
        rng.shuffle(files)
        lists.append(files)
    order: list[Path] = []
    for index in range(max(len(files) for files in lists)):
        order += [files[index] for files in lists if index < len(files)]
    return order


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> int:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return len(data) + 512 + (-len(data) % 512)


def jpeg_square(path: Path, quality: int) -> bytes | None:
    try:
        image = center_crop_square(load_image(path), CONTENT_SIDE)
    except MobilestyleError:
        return None
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=REPO / "gpu_carry")
    parser.add_argument("--budget-mib", type=float, default=63.5, help="Tree + carry in all (the tool's limit is 64).")
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthetic", type=int, default=600, help="Procedural styles' statistics to pack (0: none).")
    args = parser.parse_args()

    train = args.shared / "data" / "train"
    vgg_path = args.shared / "weights" / VGG_FP16
    style_files, _ = readable_images(list_images(train / "style"))
    vgg = VGGEncoder.from_weights(vgg_path)
    stats = style_statistics_table(style_files, STYLE_SIZE, vgg, default_data_cache())
    stats = stats[torch.isfinite(stats).all(1)]
    tables = {"styles": stats}
    if args.synthetic:  # seed 0: `train`'s default, so these are the rows a CPU run with --synthetic-styles N reads
        tables["synthetic"] = synthetic_style_statistics(args.synthetic, STYLE_SIZE, vgg, default_data_cache())
    args.out.mkdir(parents=True, exist_ok=True)
    tar_path = args.out / "train_data.tar"
    tar_path.unlink(missing_ok=True)
    budget = int(args.budget_mib * MIB) - travelling_tree_bytes() - 64 * 1024
    with tarfile.open(tar_path, "w") as tar:
        used = add_bytes(tar, "vgg.pth.xz", lzma.compress(vgg_path.read_bytes(), preset=6))
        for name, table in tables.items():
            used += add_bytes(tar, f"{name}.safetensors.xz", lzma.compress(save({"stats": table.half().contiguous()}), preset=6))
        style = jpeg_square(style_files[0], 90)
        assert style is not None
        used += add_bytes(tar, f"style/{style_files[0].stem}.jpg", style)
        count = 0
        for path in round_robin(sorted(p for p in (train / "content").iterdir() if p.is_dir()), args.seed):
            data = jpeg_square(path, args.quality)
            if data is None:
                continue
            if used + len(data) + 1024 > budget:
                break
            used += add_bytes(tar, f"content/{count:05d}_{path.stem}.jpg", data)
            count += 1
    total = travelling_tree_bytes() + tar_path.stat().st_size
    styles = " + ".join(f"{len(table)} {name}" for name, table in tables.items())
    print(f"{tar_path}: style statistics of {styles}, {count} photos; carry + tree = {total / MIB:.2f} MiB (limit 64)")


if __name__ == "__main__":
    main()
