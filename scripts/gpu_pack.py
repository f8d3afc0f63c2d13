"""Pack what a GPU training run needs into gpu_carry/ (the device tool's `carry`), under its 64 MiB limit.

    python scripts/gpu_pack.py [--shared ../shared] [--budget-mib 60] [--short-side 256]

Writes gpu_carry/train_data.tar (content/ and style/ JPEGs, short side resized, picked round-robin over the
source folders until the data budget is spent) and copies the fp16 VGG-16 to relu4_3. The budget counts the
working tree that travels with every call (tracked + untracked-not-ignored files) as well. Add gpu_carry/ to
.git/info/exclude so it only travels when `carry` names it. See docs/training.md.
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import subprocess
import tarfile
from pathlib import Path

from mobilestyle.data import list_images
from mobilestyle.errors import MobilestyleError
from mobilestyle.images import load_image, resize_short_side

REPO = Path(__file__).resolve().parents[1]
VGG_FP16 = "vgg16_caffe_features_to_relu4_3_fp16.pth"
MIB = 1 << 20


def travelling_tree_bytes() -> int:
    """Bytes of the files every device call sends (tracked + untracked files git does not ignore)."""
    listing = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True)
    return sum((REPO / name).stat().st_size for name in listing.stdout.decode().split("\0") if name and (REPO / name).is_file())


def exclude_from_git(folder: Path) -> None:
    """List ``folder`` in .git/info/exclude (local, never committed) so it travels only when `carry` names it."""
    try:
        relative = folder.resolve().relative_to(REPO)
    except ValueError:
        return  # outside the repository: nothing travels by accident
    exclude = REPO / ".git" / "info" / "exclude"
    line = f"/{relative.as_posix()}/"
    if line not in exclude.read_text().splitlines():
        with open(exclude, "a") as handle:
            handle.write(line + "\n")


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


def add_images(tar: tarfile.TarFile, files: list[Path], prefix: str, budget: int, short_side: int, quality: int) -> tuple[int, int]:
    """JPEG-encode files (short side at most ``short_side``) into the tar until ``budget`` bytes; (count, bytes)."""
    count = used = 0
    for path in files:
        try:
            image = load_image(path)
        except MobilestyleError:
            continue
        if min(image.size) > short_side:
            image = resize_short_side(image, short_side)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        if used + buffer.tell() + 512 > budget:
            break
        info = tarfile.TarInfo(f"{prefix}/{count:05d}_{path.stem}.jpg")
        info.size = buffer.tell()
        buffer.seek(0)
        tar.addfile(info, buffer)
        count, used = count + 1, used + info.size + 512
    return count, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=REPO / "gpu_carry")
    parser.add_argument("--budget-mib", type=float, default=60.0, help="Tree + carry in all (the tool's limit is 64).")
    parser.add_argument("--style-share", type=float, default=0.3, help="Share of the data budget for style images.")
    parser.add_argument("--short-side", type=int, default=256)
    parser.add_argument("--quality", type=int, default=88)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train = args.shared / "data" / "train"
    vgg = args.shared / "weights" / VGG_FP16
    args.out.mkdir(parents=True, exist_ok=True)
    exclude_from_git(args.out)
    (args.out / VGG_FP16).unlink(missing_ok=True)
    shutil.copyfile(vgg, args.out / VGG_FP16)
    data_budget = int(args.budget_mib * MIB) - travelling_tree_bytes() - vgg.stat().st_size - 64 * 1024
    if data_budget < 4 * MIB:
        raise SystemExit(f"only {data_budget / MIB:.1f} MiB left for data: shrink the working tree or raise --budget-mib")
    content = round_robin(sorted(p for p in (train / "content").iterdir() if p.is_dir()), args.seed)
    style = round_robin([train / "style"], args.seed)
    tar_path = args.out / "train_data.tar"
    with tarfile.open(tar_path, "w") as tar:
        n_style, style_bytes = add_images(tar, style, "style", int(data_budget * args.style_share), args.short_side, args.quality)
        n_content, _ = add_images(tar, content, "content", data_budget - style_bytes, args.short_side, args.quality)
    total = travelling_tree_bytes() + sum(p.stat().st_size for p in args.out.iterdir())
    print(f"{tar_path}: {n_content} content + {n_style} style images; carry + tree = {total / MIB:.1f} MiB (limit 64)")


if __name__ == "__main__":
    main()
