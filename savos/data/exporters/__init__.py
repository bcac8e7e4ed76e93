"""Exporters of savos datasets into the layouts other tools read (``savos-gen export ...``), each the
inverse of its importer in ``savos.data.importers``.

- ``fishbowl``: FISHBOWL's raw layout (``video.mp4`` H.264 + COCO-RLE ``objects.json``, the amodal
  single-object folders, the type ids);
- ``kins``: KINS-style amodal JSON (``update_{train,test}_2020.json``) with frame PNGs, plus the
  clips as KITTI raw drives with KITTI-MOTS tracks (what ``savos-gen import kins-video-car`` reads).

Shared pieces: ``common`` (the source opened and checked, the owned export folder, type ids, the
progress bar and the provenance manifest ``export.json``).
"""
