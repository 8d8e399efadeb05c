"""Choosing the device inside the job: CUDA is never touched before the worker forks
(celery#3402), and a worker pinned by CUDA_VISIBLE_DEVICES sees its GPU as cuda:0."""

from __future__ import annotations


def pick_device() -> str:
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"
