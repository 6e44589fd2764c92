"""The README's plug-in example works as printed: an estimator from a user's package, by import path."""

import re
import sys
from pathlib import Path

import torch

from bench.training import SpikingClassifier

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_estimator_plugs_in_by_import_path(tmp_path, monkeypatch):
    code = re.search(r"```python\n# mypkg/estimators.py\n(.*?)```", README.read_text(), re.S).group(1)
    package = tmp_path / "readme_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "estimators.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        model = SpikingClassifier(arch="mlp", arch_params={"hidden": [8]}, num_classes=3, input_shape=[1, 2, 2],
                                  estimator="readme_pkg.estimators:Cosine", estimator_params={"width": 0.5})
        estimator = model.describe()["estimator"]
        assert estimator["params"] == {"width": 0.5}
        assert abs(estimator["peak"] - torch.pi / 2) < 1e-12 and estimator["area"] == 1.0
        u = torch.linspace(-1, 1, 20001, requires_grad=True)
        model.neurons["features.1"].estimator(u).sum().backward()
        assert abs(torch.trapezoid(u.grad, u.detach()).item() - 1.0) < 1e-4  # the area it claims
    finally:
        sys.modules.pop("readme_pkg.estimators", None)
        sys.modules.pop("readme_pkg", None)
