"""`plugin/` is generated from the notebooks: the exporter's rules, and a check that the two agree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from workbook import exporter as export

ROOT = Path(__file__).resolve().parent.parent
HAND_WRITTEN = {"__init__.py", "__main__.py", "lab/__init__.py"}


def _notebook(folder: Path, name: str, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path = folder / name
    nbformat.write(nb, path)
    return path


def test_plugin_package_matches_the_notebooks(tmp_path: Path) -> None:
    expected = export.render_all()
    assert expected, "no notebook exports anything"
    out = tmp_path / "plugin"
    export.write(expected, out)
    mismatched = [
        f"plugin/{name}"
        for name in sorted(expected)
        if not (ROOT / "plugin" / name).exists()
        or (ROOT / "plugin" / name).read_text() != (out / name).read_text()
    ]
    assert not mismatched, f"edit the notebooks, then run `make export`; out of date: {mismatched}"
    assert export.differences(expected, ROOT / "plugin") == []


def test_every_module_in_plugin_is_generated_or_known_hand_written() -> None:
    package = ROOT / "plugin"
    generated = export.generated_files(package)
    others = {p.relative_to(package).as_posix() for p in package.rglob("*.py")} - generated
    assert others <= HAND_WRITTEN, (
        f"modules written by hand belong in a notebook: {sorted(others - HAND_WRITTEN)}"
    )


@pytest.mark.parametrize("victim", ["manifest.py", "app.py"])
def test_a_hand_edit_of_a_generated_module_is_caught_and_named(tmp_path: Path, victim: str) -> None:
    package = tmp_path / "plugin"
    shutil.copytree(ROOT / "plugin", package)
    expected = export.render_all()
    assert victim in expected, f"plugin/{victim} is no longer generated"
    with (package / victim).open("a") as fh:
        fh.write("\nprint('a hand edit')\n")
    assert export.differences(expected, package) == [
        f"plugin/{victim}: differs from its notebook (edit the notebook, then `make export`)"
    ]
    assert export.main(["--check", "--out", str(package)]) == 1


def test_cells_export_in_order_under_a_header_naming_the_notebook(tmp_path: Path) -> None:
    _notebook(
        tmp_path,
        "01_demo.ipynb",
        "#| default_exp demo",
        "#| export\nA = 1",
        "B = 2  # not exported",
        "#| export\ndef f():\n    return A",
    )
    rendered = export.render_all(tmp_path)
    text = rendered["demo.py"]
    first_line = text.splitlines()[0]
    assert first_line.startswith(export.HEADER_MARK) and "01_demo.ipynb" in first_line
    assert "A = 1" in text and "def f():" in text and "B = 2" not in text
    assert text.index("A = 1") < text.index("def f():")
    assert "#|" not in text
    assert export.render_all(tmp_path) == rendered, "export is not deterministic"


def test_export_with_a_name_writes_a_second_module(tmp_path: Path) -> None:
    _notebook(
        tmp_path, "02_demo.ipynb", "#| default_exp main", "#| export\nX = 1", "#| export helpers\nY = 2"
    )
    rendered = export.render_all(tmp_path)
    assert set(rendered) == {"main.py", "helpers.py"}
    assert "Y = 2" in rendered["helpers.py"] and "Y = 2" not in rendered["main.py"]


def test_an_export_cell_without_default_exp_is_a_clear_error(tmp_path: Path) -> None:
    _notebook(tmp_path, "03_orphan.ipynb", "#| export\nX = 1")
    with pytest.raises(export.ExportError, match=r"03_orphan.ipynb, cell 1: .*no '#\| default_exp NAME'"):
        export.render_all(tmp_path)


def test_two_notebooks_writing_one_module_is_a_clear_error(tmp_path: Path) -> None:
    _notebook(tmp_path, "01_a.ipynb", "#| default_exp same", "#| export\nX = 1")
    _notebook(tmp_path, "02_b.ipynb", "#| default_exp same", "#| export\nY = 1")
    with pytest.raises(
        export.ExportError,
        match=r"plugin/same.py is written by two notebooks: notebooks/01_a.ipynb and notebooks/02_b",
    ):
        export.render_all(tmp_path)


def test_write_removes_generated_modules_no_notebook_exports(tmp_path: Path) -> None:
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs, "01_a.ipynb", "#| default_exp kept", "#| export\nX = 1")
    package = tmp_path / "plugin"
    package.mkdir()
    (package / "old.py").write_text(f"{export.HEADER_MARK} notebooks/gone.ipynb\nZ = 1\n")
    (package / "__init__.py").write_text('"""hand written"""\n')
    assert export.differences(export.render_all(nbs), package) == [
        "plugin/kept.py: missing (run `make export`)",
        "plugin/old.py: generated, but no notebook exports it any more (run `make export`)",
    ]
    export.write(export.render_all(nbs), package)
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "kept.py"]


def test_check_mode_exits_non_zero_and_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs, "01_a.ipynb", "#| default_exp mod", "#| export\nX = 1")
    package = tmp_path / "plugin"
    assert export.main(["--notebooks", str(nbs), "--out", str(package)]) == 0
    (package / "mod.py").write_text((package / "mod.py").read_text() + "X = 2\n")
    assert export.main(["--check", "--notebooks", str(nbs), "--out", str(package)]) == 1
    assert "plugin/mod.py: differs" in capsys.readouterr().err


def test_each_cell_is_marked_with_its_notebook_and_number(tmp_path: Path) -> None:
    _notebook(tmp_path, "01_demo.ipynb", "#| default_exp demo", "X = 0", "#| export\nA = 1")
    text = export.render_all(tmp_path)["demo.py"]
    assert "# %% notebooks/01_demo.ipynb 3\nA = 1" in text


def test_a_deep_dive_exports_and_a_dotted_name_is_a_subpackage(tmp_path: Path) -> None:
    (tmp_path / "deep_dives").mkdir()
    _notebook(tmp_path, "04_chapter.ipynb", "#| default_exp lab.server", "#| export\nS = 1")
    _notebook(tmp_path / "deep_dives", "04a_more.ipynb", "#| default_exp lab.more", "#| export\nM = 2")
    rendered = export.render_all(tmp_path)
    assert set(rendered) == {"lab/server.py", "lab/more.py"}
    assert rendered["lab/more.py"].startswith(f"{export.HEADER_MARK} notebooks/deep_dives/04a_more.ipynb")
    package = tmp_path / "plugin"
    export.write(rendered, package)
    assert (package / "lab" / "more.py").read_text() == rendered["lab/more.py"]
    assert export.differences(rendered, package) == []


def test_export_from_a_notebook_reports_only_its_own_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _notebook(tmp_path, "01_a.ipynb", "#| default_exp first", "#| export\nX = 1")
    _notebook(tmp_path, "02_b.ipynb", "#| default_exp second", "#| export\nY = 1")
    package = tmp_path / "plugin"
    export.export("02_b.ipynb", notebooks_dir=tmp_path, package=package)
    assert capsys.readouterr().out == "plugin/second.py: written\n"
    assert (package / "first.py").exists(), "the whole package is written, as `make export` would"
    export.export("02_b.ipynb", notebooks_dir=tmp_path, package=package)
    assert capsys.readouterr().out == "plugin/second.py: up to date\n"
    with pytest.raises(export.ExportError, match="no notebook named '09_x.ipynb'"):
        export.export("09_x.ipynb", notebooks_dir=tmp_path, package=package)


def test_every_exporting_notebook_ends_with_its_export_cell() -> None:
    for path in export.notebook_paths():
        modules = export.collect([path])
        if not modules:
            continue
        code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        last = "".join(code[-1]["source"])
        assert f'export("{path.name}")' in last, (
            f"{path.name}: the last code cell should be export({path.name!r})"
        )
