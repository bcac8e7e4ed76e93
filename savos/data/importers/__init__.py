"""Importers of real data into the savos Clip format (``savos-gen import ...``).

- ``fishbowl``: FISHBOWL, raw layout (``video.mp4`` + COCO-RLE ``objects.json``) or WebDataset
  layout (``shard-*.tar`` with bit-packed ``vm_mask.npy.gz`` / ``fm_mask.npy.gz``);
- ``kins``: KINS-Video-Car (KINS amodal truth on KITTI raw frames matched by MD5, tracks in
  KITTI-MOTS text);
- ``user_video``: a user's own video (mp4 or frame folder) with per-frame instance masks (indexed PNGs
  or MOTS text).

Shared pieces: ``media`` (decoding videos and frame folders), ``masks`` (COCO RLE, polygons, MOTS
text), ``flow`` (estimated optical flow and Middlebury ``.flo``), ``assemble`` (one Clip from masks,
frames and flow, with windows and resizing) and ``plan`` (the deterministic list of clips an import
makes, for ``savos.data.writer.write_dataset``).
"""
