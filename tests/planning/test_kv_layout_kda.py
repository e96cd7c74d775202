"""Kimi-Linear's KDA layers keep a per-request state sized as vLLM sizes it
(planning/kv_layout.py kda_state_bytes, from MambaStateShapeCalculator.kda_state_shape and
MambaStateDtypeCalculator.kda_state_dtype): three short-convolution states in the model dtype
and a float32 recurrent state; Gated DeltaNet keeps its own formula."""

from facts import model_families as mf
from planning import kv_layout

KDA = {"kind": "kda", "num_key_heads": 32, "num_value_heads": 32, "key_head_dim": 128,
       "value_head_dim": 128, "conv_kernel_dim": 4}


def test_a_kda_layer_keeps_three_conv_states_and_a_float32_recurrent_state():
    # Kimi-Linear-48B, bf16: 3 × 4096 × (4 − 1) × 2 B + 32 × 128 × 128 × 4 B.
    assert kv_layout.kda_state_bytes(KDA, 1, 2) == 73_728 + 2_097_152
    # TP 4 splits the heads: 3 × 1024 × 3 × 2 + 8 × 128 × 128 × 4.
    assert kv_layout.kda_state_bytes(KDA, 4, 2) == 18_432 + 524_288
    # vLLM divides heads by TP exactly (divide()): whole heads, whole bytes.
    assert type(kv_layout.kda_state_bytes(KDA, 4, 2)) is int


def test_the_linear_state_follows_the_layers_kind():
    gdn = {key: value for key, value in KDA.items() if key != "kind"}
    assert kv_layout.linear_state_bytes(gdn, 1, 2) == kv_layout.gated_delta_net_state_bytes(
        gdn, 1, 2)
    assert kv_layout.linear_state_bytes({**gdn, "kind": "gated_delta_net"}, 2, 2) == \
        kv_layout.gated_delta_net_state_bytes(gdn, 2, 2)
    # The same shapes as Gated DeltaNet would count the recurrent state at 2 B, not 4.
    assert kv_layout.linear_state_bytes(KDA, 1, 2) - kv_layout.gated_delta_net_state_bytes(
        gdn, 1, 2) == 32 * 128 * 128 * 2


def test_kimi_linears_config_gives_kda_layer_kinds_and_its_state_shape():
    config = {"num_hidden_layers": 8, "linear_attn_config": {
        "kda_layers": [1, 2, 3, 5, 6, 7], "full_attn_layers": [4, 8], "num_heads": 32,
        "head_dim": 128, "short_conv_kernel_size": 4}}
    facts = kv_layout.layout_facts_from_config(config)
    assert facts["layer_types"] == [mf.LINEAR_ATTENTION] * 3 + [mf.FULL_ATTENTION] + [
        mf.LINEAR_ATTENTION] * 3 + [mf.FULL_ATTENTION]
    assert facts["linear_attention"] == KDA
