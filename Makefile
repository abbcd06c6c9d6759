# `make demo` and `make test` bootstrap .venv themselves, with the newest of python3.13,
# python3.12 and python3.11 that runs (a pyenv shim of a version not selected does not);
# `make test PYTHON=/path/to/python3.x` chooses another, `VENV=dir` another environment.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11; do \
	$$p -c "" >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO := demo_work
DEMO_FEATURES := --window_size_ms 40 --window_stride_ms 20 --dct_coefficient_count 10
DEMO_DATA := --data_url= --data_dir $(DEMO)/data
# DS_CNN_S learns _unknown_ from the set's 103 other words: 30 % of its clips (real voices
# then get _unknown_ right as often as before, docs/synthetic_data.md), in every command.
DS_CNN_S_DATA := $(DEMO_DATA) --unknown_percentage 30
# Hello Edge's DS_CNN_S configuration.
DS_CNN_S := --model_architecture ds_cnn --model_size_info 5 64 10 4 2 2 64 3 3 1 1 64 3 3 1 1 64 3 3 1 1 64 3 3 1 1
# The demo's DS_CNN_S recipe. `make demo DEMO_TEACHERS="1 2 3"` first trains three models of
# it (those seeds), which the demo's model then also learns from: about twice the demo's time
# for a slightly better model (docs/synthetic_data.md#three-teachers).
DEMO_TEACHERS :=
# Each teacher's train_dir is this followed by its seed.
DEMO_TEACHER := $(DEMO)/teacher
comma := ,
space := $() $()
TEACHING := $(if $(strip $(DEMO_TEACHERS)),--teacher_checkpoints \
	$(subst $(space),$(comma),$(strip $(DEMO_TEACHERS:%=$(DEMO_TEACHER)%))))
DS_CNN_S_TRAIN := $(DS_CNN_S_DATA) $(DEMO_FEATURES) $(DS_CNN_S) \
	--how_many_training_steps 600,300 --learning_rate 0.002,0.0005 \
	--eval_step_interval 150 --save_step_interval 150

.PHONY: venv test test-fast demo search-demo bench clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt pyproject.toml
	@test -x $(PY) || test -n "$(PYTHON)" || { echo "error: no python3.13, python3.12 or \
	python3.11 runs here; install one, or run make PYTHON=/path/to/python3.x" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; v = sys.version_info[:2]; print(f"make: {sys.prefix} uses Python \
	{sys.version.split()[0]}"); sys.exit(0 if (3, 11) <= v <= (3, 13) else \
	"error: kws-tf supports Python 3.11 to 3.13; run make PYTHON=/path/to/python3.x")'
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=77"
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-test.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: venv
	@$(PY) -c 'import sys; print("make: testing with Python", sys.version.split()[0])'
	$(PY) -m pytest -q

# The suite without the end-to-end tests marked slow.
test-fast: venv
	@$(PY) -c 'import sys; print("make: testing with Python", sys.version.split()[0])'
	$(PY) -m pytest -q -m "not slow"

demo: venv
	$(PY) -m kws_tf.data.synthetic --output_dir $(DEMO)/data --clips_per_word 800 \
		--unknown_clips_per_word 48 --seed 0 --json_out $(DEMO)/synthetic.json
	$(PY) -m kws_tf.data $(DS_CNN_S_DATA) $(DEMO_FEATURES) \
		--json_out $(DEMO)/data_summary.json
	$(PY) -m kws_tf.features --wav $(DEMO)/data/yes/$$(ls $(DEMO)/data/yes | head -1) \
		$(DEMO_FEATURES) --quantize_bits 6
	for seed in $(DEMO_TEACHERS); do $(PY) train.py $(DS_CNN_S_TRAIN) --seed $$seed \
		--train_dir $(DEMO_TEACHER)$$seed --summaries_dir $(DEMO)/logs_teacher$$seed \
		--json_out $(DEMO)/train_teacher$$seed.json || exit 1; done
	$(PY) train.py $(DS_CNN_S_TRAIN) $(TEACHING) \
		--train_dir $(DEMO)/ds_cnn_s --summaries_dir $(DEMO)/logs --json_out $(DEMO)/train.json
	$(PY) -m kws_tf.evaluate --checkpoint $(DEMO)/ds_cnn_s $(DS_CNN_S_DATA) \
		--splits testing --json_out $(DEMO)/evaluate.json
	$(PY) freeze.py --checkpoint $(DEMO)/ds_cnn_s --output_file $(DEMO)/ds_cnn_s.pb
	$(PY) freeze.py --checkpoint $(DEMO)/ds_cnn_s --output_file $(DEMO)/ds_cnn_s_int8.tflite \
		--quantize int8 $(DS_CNN_S_DATA)
	$(PY) label_wav.py --graph $(DEMO)/ds_cnn_s.pb --wav $(DEMO)/data/yes/$$(ls $(DEMO)/data/yes | head -1)
	$(PY) label_wav.py --graph $(DEMO)/ds_cnn_s_int8.tflite --wav $(DEMO)/data/no/$$(ls $(DEMO)/data/no | head -1)
	$(PY) train.py $(DEMO_DATA) $(DEMO_FEATURES) \
		--feature_bits 6 --feature_frac_bits 0 --model_size_info 2 48 4 4 2 2 16 3 3 1 1 \
		--how_many_training_steps 1200,800 --learning_rate 0.005,0.001 \
		--eval_step_interval 400 --save_step_interval 400 \
		--train_dir $(DEMO)/bf248 --summaries_dir $(DEMO)/logs_bf248 --json_out $(DEMO)/train_bf248.json
	$(PY) quant_test.py --checkpoint $(DEMO)/bf248 $(DEMO_DATA) \
		--export_dir $(DEMO)/bf248_export --json_out $(DEMO)/quant_test.json
	$(MAKE) -s -C $(DEMO)/bf248_export host
	$(DEMO)/bf248_export/kws_host $(DEMO)/data/yes/$$(ls $(DEMO)/data/yes | head -1)
	@if command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null; then \
		echo "the same clip on an emulated Cortex-M4 (QEMU mps2-an386):"; \
		$(MAKE) -s -C $(DEMO)/bf248_export run-cortex-m4 \
			WAVS="$(CURDIR)/$(DEMO)/data/yes/$$(ls $(DEMO)/data/yes | head -1)"; \
	else echo "no arm-none-eabi-gcc / qemu-system-arm: the Cortex-M4 run is skipped (README)"; fi

# A short architecture search on the demo data (run `make demo` first), the found network
# trained from its inherited weights, then fine-tuned with tfmot QAT, evaluated as nas-for-kws
# does (quant_test.py), frozen to int8 TFLite and run on one clip.
search-demo: venv
	$(PY) search.py --path $(DEMO)/search --data_dir $(DEMO)/data --width_mult 0.5 \
		--n_cell_stages 6 --warmup_epochs 2 --n_epochs 4 --target_hardware flops \
		--flops_ref_value 5e6 --grad_reg_loss_alpha 1 --grad_reg_loss_beta 4 --arch_lr 0.05 \
		--grad_update_arch_param_every 1 --weight_bits 8 --json_out $(DEMO)/search.json
	$(PY) train.py --data_url= --data_dir $(DEMO)/data $(DEMO_FEATURES) --model_architecture nas \
		--net_config $(DEMO)/search/learned_net/net.config \
		--start_checkpoint $(DEMO)/search/learned_net/init \
		--how_many_training_steps 300 --learning_rate 0.001 --eval_step_interval 100 \
		--train_dir $(DEMO)/search_train --summaries_dir $(DEMO)/logs_search \
		--json_out $(DEMO)/search_train.json
	$(PY) train.py --data_url= --data_dir $(DEMO)/data $(DEMO_FEATURES) --model_architecture nas \
		--net_config $(DEMO)/search/learned_net/net.config --quantize \
		--start_checkpoint $(DEMO)/search_train \
		--how_many_training_steps 100 --learning_rate 0.0005 --eval_step_interval 50 \
		--train_dir $(DEMO)/search_qat --summaries_dir $(DEMO)/logs_search_qat \
		--json_out $(DEMO)/search_qat.json
	$(PY) quant_test.py --checkpoint $(DEMO)/search_qat --data_url= --data_dir $(DEMO)/data \
		--post_training_rounding --json_out $(DEMO)/search_quant_test.json
	$(PY) freeze.py --checkpoint $(DEMO)/search_qat --output_file $(DEMO)/search_int8.tflite \
		--quantize int8 --json_out $(DEMO)/search_freeze.json
	$(PY) label_wav.py --graph $(DEMO)/search_int8.tflite \
		--wav $(DEMO)/data/yes/$$(ls $(DEMO)/data/yes | head -1)

bench: venv
	$(PY) bench/report.py --output docs/PERFORMANCE.md --json_out $(DEMO)/bench.json

clean:
	rm -rf $(DEMO)
