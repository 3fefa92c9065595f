"""A BART classification forward that runs the last decoder layer at one position only.

BartForSequenceClassification reads the decoder's hidden state at the last <eos> of
each row and nothing else. With one decoder layer (distilbart-mnli-12-1), every other
decoder position's query projection, cross-attention query and feed-forward is work
whose result is thrown away. Keys and values are still needed at every position (the
read position attends to all of them), so this keeps those and computes the rest for
the read position alone: the same arithmetic as the full model at that position.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F


def _attend(attention, query_states, key_value_states, key_mask):
    """BartAttention for a single query position per row. key_mask: [B, T] bool, True = attend."""
    batch = query_states.shape[0]
    heads, head_dim = attention.num_heads, attention.head_dim
    q = attention.q_proj(query_states).view(batch, heads, 1, head_dim)
    k = attention.k_proj(key_value_states).view(batch, -1, heads, head_dim).transpose(1, 2)
    v = attention.v_proj(key_value_states).view(batch, -1, heads, head_dim).transpose(1, 2)
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=key_mask[:, None, None, :], scale=attention.scaling
    )
    return attention.out_proj(out.reshape(batch, heads * head_dim))


def last_eos_forward(model) -> Optional[Callable]:
    """A forward `(input_ids, attention_mask, token_type_ids) -> logits` for `model`, or None
    when the model is not a one-decoder-layer BART classifier (then use the model itself)."""
    from transformers import BartForSequenceClassification
    from transformers.models.bart.modeling_bart import shift_tokens_right

    if type(model) is not BartForSequenceClassification or len(model.model.decoder.layers) != 1:
        return None
    config = model.config
    encoder, decoder = model.model.encoder, model.model.decoder
    layer = decoder.layers[0]
    head = model.classification_head

    def forward(input_ids, attention_mask, token_type_ids=None):
        batch, width = input_ids.shape
        rows = torch.arange(batch, device=input_ids.device)
        encoded = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        is_eos = input_ids.eq(config.eos_token_id)
        read_at = width - 1 - is_eos.flip(1).int().argmax(1)  # the last <eos> of each row
        positions = torch.arange(width, device=input_ids.device)

        decoder_ids = shift_tokens_right(input_ids, config.pad_token_id, config.decoder_start_token_id)
        hidden = decoder.embed_tokens(decoder_ids) + decoder.embed_positions(decoder_ids)
        hidden = decoder.layernorm_embedding(hidden)

        # causal self-attention: the read position sees itself and everything before it
        state = hidden[rows, read_at]
        causal = positions[None, :] <= read_at[:, None]
        state = layer.self_attn_layer_norm(state + _attend(layer.self_attn, state, hidden, causal))
        # cross-attention over the encoder's non-padding positions
        state = layer.encoder_attn_layer_norm(
            state + _attend(layer.encoder_attn, state, encoded, attention_mask.bool())
        )
        state = layer.final_layer_norm(state + layer.fc2(layer.activation_fn(layer.fc1(state))))
        return head(state)

    return forward
