"""Text output: Hello Edge's `label (score = 0.12345)` lines, one block per recording."""


def text_block(result, show_name):
    """The lines for one result; a clip's block is exactly Hello Edge's unless `show_name`."""
    if result["mode"] == "clip":
        lines = [f"# {result['wav']}"] if show_name else []
        lines += [_scored(top["label"], top["score"]) for top in result["top"]]
        return "\n".join(lines)
    lines = [f"# {result['wav']}: {result['duration_ms']:.0f} ms, {result['windows']} windows "
             f"of {result['window_ms']:g} ms every {result['stride_ms']:g} ms"]
    lines += [f"{found['time_ms']:.0f} ms: {_scored(found['label'], found['score'])}"
              for found in result["detections"]]
    if not result["detections"]:
        lines.append("# no detections")
    return "\n".join(lines)


def _scored(label, score):
    return f"{label} (score = {score:.5f})"
