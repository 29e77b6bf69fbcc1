#!/usr/bin/env python3
"""The content CNN beside a plain PyTorch CNN of the same architecture (docs/CONTENT.md), trained on the same
log-mel spectrograms with the same settings: test accuracy and CPU training clips/s.

The data: `reckon content synth` (synthetic genre songs as WAV files and a clip list). The reference computes the
log-mel images in numpy by reckon's contract (kernels/logmel/logmel.h: periodic Hann, no centring pad, Slaney
filterbank, 10·log10(max(E, 1e-10))), so both models read the same input. Same crops (128 frames), gain (±6 dB), standardisation, Adam (0.001), batch 32, dropout
0.3, epochs (no early stopping), threads."""
import argparse
import json
import os
import subprocess
import tempfile
import time
import wave

import numpy as np

from peer_report import add_output_options, emit


def read_wav(path):
    with wave.open(path) as w:
        frames = w.readframes(w.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def hz_to_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(hz < 1000, hz / (200 / 3), 15 + np.log(np.maximum(hz, 1e-9) / 1000) / log_step)


def mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(mel < 15, mel * (200 / 3), 1000 * np.exp(log_step * (mel - 15)))


def filterbank(rate=22050, fft=1024, mels=64):
    edges = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(rate / 2), mels + 2))
    hz = np.arange(fft // 2 + 1) * rate / fft
    bank = np.zeros((fft // 2 + 1, mels))
    for m in range(mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        bank[:, m] = np.maximum(0, np.minimum((hz - lo) / (c - lo), (hi - hz) / (hi - c))) * 2 / (hi - lo)
    return bank.astype(np.float32)


def logmel(x, bank, fft=1024, hop=512):
    frames = 1 + (len(x) - fft) // hop
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(fft) / fft)).astype(np.float32)
    idx = np.arange(fft)[None, :] + hop * np.arange(frames)[:, None]
    power = np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2
    return (10 * np.log10(np.maximum(power @ bank, 1e-10))).astype(np.float32)


def read_clips(list_path):
    folder = os.path.dirname(list_path)
    out = {"train": [], "valid": [], "test": []}
    for line in open(list_path, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        path, label, split = line.rstrip("\n").split("\t")
        out[split].append((os.path.join(folder, path), label))
    return out


def torch_cnn(torch, classes, filters=16, hidden=128, mels=64, dropout=0.3):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            f = filters
            self.features = nn.Sequential(
                nn.Conv2d(1, f, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(f, 2 * f, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(2 * f, 4 * f, 3, padding=1), nn.ReLU(), nn.MaxPool2d((2, 4)))
            self.dense = nn.Linear(mels // 16 * 4 * f, hidden)
            self.drop = nn.Dropout(dropout)
            self.head = nn.Linear(hidden, classes)

        def forward(self, x):  # x: [B, T, M]
            y = self.features(x[:, None])          # [B, 4F, T/8, M/16]
            y = y.amax(dim=2).flatten(1)            # max over time; band groups stay apart
            return self.head(self.drop(torch.relu(self.dense(y))))

    return Net()


def crops(images, rng, crop=128, gain_db=6.0):
    out = np.zeros((len(images), crop, images[0].shape[1]), dtype=np.float32)
    for i, im in enumerate(images):
        start = rng.integers(0, im.shape[0] - crop + 1) if im.shape[0] > crop else 0
        part = im[start:start + crop]
        out[i, :len(part)] = part + rng.uniform(-gain_db, gain_db)
        if len(part) < crop:
            out[i, len(part):] = np.nan  # filled with the band means below
    return out


def pytorch_run(train, test, names, epochs, threads, crop=128, batch=32):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    stacked = np.concatenate([im for im, _ in train])
    mean, scale = stacked.mean(0), 1 / np.sqrt(stacked.var(0) + 1e-3)
    model = torch_cnn(torch, len(names))
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    images = [im for im, _ in train]
    labels = np.array([names.index(l) for _, l in train])
    seconds = 0.0
    for _ in range(epochs):
        order = rng.permutation(len(images))
        start = time.perf_counter()
        model.train()
        for at in range(0, len(order), batch):
            idx = order[at:at + batch]
            x = crops([images[i] for i in idx], rng, crop)
            x = np.where(np.isnan(x), mean, x)
            x = torch.from_numpy((x - mean) * scale)
            loss = torch.nn.functional.cross_entropy(model(x), torch.from_numpy(labels[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        seconds += time.perf_counter() - start
    model.eval()
    right = 0
    with torch.no_grad():
        for im, label in test:
            starts = list(range(0, max(1, im.shape[0] - crop + 1), crop // 2)) or [0]
            x = np.stack([np.pad(im[s:s + crop], ((0, max(0, crop - len(im[s:s + crop]))), (0, 0)),
                                 constant_values=np.nan) for s in starts])
            x = np.where(np.isnan(x), mean, x)
            logits = model(torch.from_numpy((x - mean) * scale)).mean(0)
            right += int(logits.argmax()) == names.index(label)
    return {"accuracy": right / len(test), "train_clips_per_second": epochs * len(images) / seconds}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reckon", default="build/bin/reckon")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--epochs", type=int, default=15)
    add_output_options(ap)
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as work:
        songs = os.path.join(work, "songs")
        subprocess.run([args.reckon, "content", "synth", "--out", songs, "--json"], check=True, capture_output=True)
        clips_tsv = os.path.join(songs, "clips.tsv")
        trained = json.loads(subprocess.run(
            [args.reckon, "content", "train", "--data", clips_tsv, "--save", os.path.join(work, "m.ckpt"),
             "--epochs", str(args.epochs), "--patience", str(args.epochs), "--device", "cpu", "--threads",
             str(args.threads), "--json"], check=True, capture_output=True, text=True, env=env).stdout)
        evaluated = json.loads(subprocess.run(
            [args.reckon, "content", "eval", "--model", os.path.join(work, "m.ckpt"), "--data", clips_tsv,
             "--device", "cpu", "--json"], check=True, capture_output=True, text=True, env=env).stdout)
        seconds = sum(e["seconds"] for e in trained["epochs"])
        clips = sum(e["clips_per_second"] * e["seconds"] for e in trained["epochs"])
        lists = read_clips(clips_tsv)
        bank = filterbank()
        train = [(logmel(read_wav(p), bank), l) for p, l in lists["train"]]
        test = [(logmel(read_wav(p), bank), l) for p, l in lists["test"]]
        ref = pytorch_run(train, test, sorted({l for _, l in lists["train"]}), args.epochs, args.threads)
    ours = {"accuracy": evaluated["accuracy"], "train_clips_per_second": clips / seconds}
    report = {"data": "reckon content synth (6 genres x 40 songs of 4 s; 144 train, 48 test)",
              "epochs": args.epochs, "threads": args.threads, "reckon": ours, "pytorch": ref,
              "speed_ratio": ours["train_clips_per_second"] / ref["train_clips_per_second"]}
    if not emit(report, args):
        return
    print(f"\nContent CNN, {report['data']}, {args.epochs} epochs, {args.threads} threads")
    for who in ("reckon", "pytorch"):
        r = report[who]
        print(f"{who:<8} accuracy {r['accuracy']:.4f}  training {r['train_clips_per_second']:.0f} clips/s")
    print(f"reckon / PyTorch training speed: {report['speed_ratio']:.2f}x")


if __name__ == "__main__":
    main()
