"""``python -m kws_tf.profile``: what a checkpoint's model costs, as Hello Edge tabled it.

For the model as trained (float32), as an int8 TFLite model and, for ds_cnn_bf, as the
integer graph of quant_test.py --export_dir: parameters, multiply-accumulates per inference,
weight bytes and activation bytes; with --mcu_json, the flash, RAM and instructions that
bench/mcu.py measured on an emulated Cortex-M4 for the same --model_size_info.
"""
import json

from kws_tf import cli
from kws_tf.errors import KwsError
from kws_tf.export import footprint
from kws_tf.models import checkpoint
from kws_tf.quant import restore

INT32_BYTES = 4


def build_parser():
    parser = cli.ArgumentParser(
        prog="python -m kws_tf.profile",
        description="Parameters, MACs per inference and memory of a checkpoint's model: as "
                    "trained, as int8 TFLite and (ds_cnn_bf) as the integer graph.")
    parser.add_argument("--checkpoint", required=True,
                        help="Checkpoint prefix or a train.py --train_dir (its best checkpoint).")
    parser.add_argument("--mcu_json", default="",
                        help="bench/mcu.py's --json_out, for the measured device figures.")
    cli.add_json_out(parser)
    return parser


def _device_figures(path, size_info):
    """bench/mcu.py's figures for a model of `size_info`, or None."""
    if not path:
        return None
    try:
        with open(path) as stream:
            configs = json.load(stream)["configs"]
    except (OSError, ValueError, KeyError) as error:
        raise KwsError(f"--mcu_json {path}: not bench/mcu.py's figures ({error})") from None
    return next((figures for figures in configs.values()
                 if list(figures["model_size_info"]) == list(size_info)), None)


def profile(args):
    prefix, chosen = checkpoint.find(args.checkpoint)
    model, info = restore.load(prefix)
    totals = footprint.summary(model)
    rows = {"float32 (as trained)": (totals["weight_bytes_float32"],
                                     4 * totals["peak_activation_values"]),
            "int8 TFLite": (totals["weight_bytes_int8"], totals["peak_activation_values"])}
    if info["model_architecture"] == "ds_cnn_bf":
        # kws_int.c: int8 weights, the FC bias in int32, two int32 maps of the largest size.
        rows["integer graph (kws_int.c)"] = (totals["weight_bytes_int8"],
                                             2 * INT32_BYTES * totals["largest_map_values"])
    print(f"checkpoint: {chosen}: {info['model_architecture']} "
          f"{' '.join(map(str, info['model_size_info']))}, input "
          f"{info['input_shape'][0]}x{info['input_shape'][1]}, {len(info['labels'])} labels")
    print(f"{'layer':<22} {'kind':<26} {'parameters':>10} {'MACs':>11}")
    for layer in totals["layers"]:
        if layer["parameters"] or layer["macs"]:
            print(f"{layer['name']:<22} {layer['kind']:<26} {layer['parameters']:>10,} "
                  f"{layer['macs']:>11,}")
    print(f"{'total':<49} {totals['parameters']:>10,} {totals['macs']:>11,} "
          f"({2 * totals['macs']:,} operations, a MAC counted as two, as Hello Edge counts)")
    print(f"{'as':<28} {'weights B':>10} {'activations B':>14}")
    for name, (weights, activations) in rows.items():
        print(f"{name:<28} {weights:>10,} {activations:>14,}")
    device = _device_figures(args.mcu_json, info["model_size_info"])
    if device:
        model_part = device["footprint"]["model"]
        print(f"measured on a Cortex-M4 (QEMU, bench/mcu.py): model {model_part['flash']:,} B "
              f"flash, {model_part['ram']:,} B RAM, {device['instructions_inference']:,} "
              f"instructions per inference; front end {device['instructions_front_end']:,} "
              "instructions per clip")
    return {"checkpoint": prefix, **{k: v for k, v in totals.items()},
            "memory": {name: {"weight_bytes": w, "activation_bytes": a}
                       for name, (w, a) in rows.items()}, "device": device}


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.user_errors():
        cli.write_json(args.json_out, profile(args))
    return 0
