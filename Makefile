# The two set-up commands of a fresh machine (README):
#   make example   creates .venv if missing, then runs the workflow on the bundled example
#   make test      creates .venv if missing, then runs the test suite
VENV ?= .venv
CORES ?= 2
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: example test lint format docs dag report pins clean

$(BIN)/.installed: envs/requirements.txt envs/requirements-dev.txt envs/requirements-sam2.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.0.1 setuptools==80.9.0 wheel==0.45.1
	$(BIN)/pip install --quiet -r envs/requirements-dev.txt -r envs/requirements-sam2.txt
	# sam2's metadata asks for torchvision, which its video predictor never imports: see envs/requirements-sam2.txt
	SAM2_BUILD_CUDA=0 $(BIN)/pip install --quiet --no-build-isolation --no-deps sam2==1.1.0
	# rapidocr-onnxruntime asks for opencv-python, which would clash with opencv-python-headless
	$(BIN)/pip install --quiet --no-deps rapidocr-onnxruntime==1.4.4
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

example: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES)

test: $(BIN)/.installed
	$(BIN)/pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check workflow/Snakefile workflow/rules

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt workflow/Snakefile workflow/rules

# config/README.md's key tables from the schema, their one source (edit the schema's descriptions)
docs: $(BIN)/.installed
	$(BIN)/python -m traitrack.config_reference config/README.md workflow/schemas/config.schema.yaml

# after `make example`: the HTML report (rule graph, overlays, QC, evaluation, trait plots)
report: $(BIN)/.installed
	$(BIN)/snakemake --report report.html

# Snakemake's pin files for `--sdm conda` (explicit format, read instead of the .yaml when
# present). Needs conda-lock and the conda-forge channel, which this project's CI cannot reach:
# run it where they are (docs/cluster.md, "Pinned environments") and commit envs/*.pin.txt.
pins:
	for env in traitrack sam2; do \
		conda-lock lock --file envs/$$env.yaml --platform linux-64 --kind explicit \
			--filename-template "envs/$$env.{platform}.pin.txt"; \
	done

dag: $(BIN)/.installed
	$(BIN)/snakemake --rulegraph --configfile config/config.yaml config/selftrain.yaml \
		| dot -Tsvg > docs/rulegraph.svg

clean:
	rm -rf results logs .snakemake
