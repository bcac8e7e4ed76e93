"""What ``savos-gen verify`` checks on imported clips, beyond the Clip contract (every reader checks
that): the provenance and partial-truth fields docs/dataset-card.md promises."""

from __future__ import annotations

from savos.data.clip import Clip

DATASETS = ("fishbowl", "kins-video-car", "video")


def check_imported(clip: Clip) -> list[str]:
    """Problems of one imported clip (empty: fine)."""
    problems = []
    meta, T, K = clip.meta, clip.num_frames, clip.num_objects
    src = meta.get("source")
    if not isinstance(src, dict) or src.get("dataset") not in DATASETS or not src.get("video"):
        problems.append(f"meta.source must name the dataset (one of {', '.join(DATASETS)}) and video")
    elif not (isinstance(src.get("frames"), list) and len(src["frames"]) == T
              and src["frames"] == list(range(src["frames"][0], src["frames"][0] + T))):
        problems.append(f"meta.source.frames must list the clip's {T} consecutive source frames")
    flow = meta.get("flow")
    if not isinstance(flow, dict) or not flow.get("method") or flow.get("exact") is not False:
        problems.append("meta.flow must name the flow's method and say exact: false (real flow is estimated)")
    if clip.amodal_flow_fwd is not None:
        problems.append("imported clips have no amodal flow (amodal_flow_fwd must be None)")
    objects = meta.get("objects")
    if not isinstance(objects, list) or len(objects) != K:
        problems.append(f"meta.objects must hold {K} objects")
    else:
        for k, o in enumerate(objects):
            if "source_id" not in o or not o.get("category"):
                problems.append(f"meta.objects[{k}] lacks source_id or category")
            if not (clip.visible == k + 1).any():
                problems.append(f"object {k + 1} is not visible in any frame of the clip")
    return problems
