"""The test infrastructure's own logic, without a host: the workflow check reads V1 and V3 node
descriptions the way the frontend does, and scripts/host_requirements.py filters a host's
requirements.txt the way scripts/test.sh needs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from workflow_tools import check_workflow, types_match, ui_to_api, widgets_with_controls

REPO = Path(__file__).resolve().parents[1]

# /object_info entries as ComfyUI 0.3.75 gives them: BasicScheduler is a V3 node (COMBO with
# options, input_order), KSampler a V1 node (a list of choices; its seed asks for a control).
INFO = {
    "Model": {"input": {"required": {}}, "output": ["MODEL"]},
    "Sigmas": {"input": {"required": {"sigmas": ["SIGMAS", {}]}}, "output": []},
    "BasicScheduler": {
        "input": {"required": {
            "model": ["MODEL", {}],
            "scheduler": ["COMBO", {"multiselect": False, "options": ["simple", "karras", "normal"]}],
            "steps": ["INT", {"default": 20, "min": 1, "max": 10000}],
            "denoise": ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}]}},
        "input_order": {"required": ["model", "scheduler", "steps", "denoise"]},
        "output": ["SIGMAS"],
    },
    "KSamplerish": {
        "input": {"required": {
            "seed": ["INT", {"default": 0, "min": 0, "max": 2 ** 64 - 1, "control_after_generate": True}],
            "sampler_name": [["euler", "dpmpp_2m"], {}],
            "noise_seed": ["INT", {"default": 0, "min": 0}],
            "cfg": ["FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0}]}},
        "output": ["LATENT"],
    },
    "Forced": {"input": {"required": {"value": ["FLOAT", {"forceInput": True}], "n": ["INT", {"default": 1}]}},
               "output": []},
}


def _workflow(sched_values, links=True):
    nodes = [
        {"id": 1, "type": "Model", "inputs": [], "outputs": [{"name": "MODEL", "type": "MODEL", "links": [1]}],
         "widgets_values": []},
        {"id": 2, "type": "BasicScheduler", "inputs": [{"name": "model", "type": "MODEL", "link": 1 if links else None}],
         "outputs": [{"name": "SIGMAS", "type": "SIGMAS", "links": [2]}], "widgets_values": sched_values},
        {"id": 3, "type": "Sigmas", "inputs": [{"name": "sigmas", "type": "SIGMAS", "link": 2}], "outputs": [],
         "widgets_values": []},
    ]
    wf_links = [[2, 2, 0, 3, 0, "SIGMAS"]] + ([[1, 1, 0, 2, 0, "MODEL"]] if links else [])
    return {"nodes": nodes, "links": wf_links}


def test_v3_combo_is_a_widget_and_its_options_are_checked():
    assert widgets_with_controls(INFO["BasicScheduler"]) == ["scheduler", "steps", "denoise"]
    assert check_workflow(_workflow(["karras", 30, 1.0]), INFO) == []
    problems = check_workflow(_workflow(["zebra", 30, 1.0]), INFO)
    assert problems == ["node 2 BasicScheduler: scheduler: 'zebra' is not one of the choices"]
    assert any("steps: 'karras' is not an INT" in p for p in check_workflow(_workflow([30, "karras", 1.0]), INFO))
    assert any("denoise: 30 > max 1.0" in p for p in check_workflow(_workflow(["karras", 1.0, 30]), INFO))
    assert any("required input model has no link" in p for p in check_workflow(_workflow(["karras", 30, 1.0], links=False), INFO))
    assert ui_to_api(_workflow(["karras", 30, 1.0]), INFO)["2"] == {
        "class_type": "BasicScheduler", "inputs": {"scheduler": "karras", "steps": 30, "denoise": 1.0, "model": ["1", 0]}}


def test_input_order_wins_over_dict_order():
    info = dict(INFO["BasicScheduler"], input_order={"required": ["model", "steps", "denoise", "scheduler"]})
    assert widgets_with_controls(info) == ["steps", "denoise", "scheduler"]


def test_control_after_generate_slots_and_force_input():
    # the option asks for a control; noise_seed gets one by the legacy name rule; forceInput: no widget
    assert widgets_with_controls(INFO["KSamplerish"]) == ["seed", None, "sampler_name", "noise_seed", None, "cfg"]
    assert widgets_with_controls(INFO["Forced"]) == ["n"]
    no_control = {"input": {"required": {"seed": ["INT", {"control_after_generate": False}]}}}
    assert widgets_with_controls(no_control) == ["seed"]


def test_link_types_match_like_the_frontend():
    assert types_match("IMAGE", "IMAGE") and types_match("IMAGE", "*") and types_match("*", "MASK")
    assert types_match("RIG_TASK_ID", "MODEL_TASK_ID,RIG_TASK_ID")
    assert not types_match("IMAGE", "MASK")
    assert types_match(["a", "b"], "COMBO")  # a V1 node's combo output into a combo input


def _host_requirements():
    spec = importlib.util.spec_from_file_location("host_requirements", REPO / "scripts" / "host_requirements.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_host_requirements_leave_out_torch_and_the_frontend_pin():
    text = """comfyui-frontend-package==1.32.9
comfyui-workflow-templates==0.7.25
torch
torchsde
torchvision>=0.20
comfyui_frontend.package
TorchAudio ; sys_platform == 'linux'
numpy>=1.25.0  # a comment
--extra-index-url https://example.invalid/simple

#non essential dependencies:
pydantic~=2.0
"""
    kept, left_out = _host_requirements().host_requirements(text)
    assert kept == ["comfyui-workflow-templates==0.7.25", "torchsde", "numpy>=1.25.0", "pydantic~=2.0"]
    assert left_out == ["comfyui-frontend-package==1.32.9", "torch", "torchvision>=0.20", "comfyui_frontend.package",
                        "TorchAudio ; sys_platform == 'linux'", "--extra-index-url https://example.invalid/simple"]
