#include "args.h"

#include <algorithm>

namespace resident {

namespace {
double num(Napi::Object obj, const char* k) { return obj.Get(k).ToNumber().DoubleValue(); }
}  // namespace

dtype dtype_from_code(uint32_t code) {
  if (code >= uint32_t(dtype::q8_0) && code <= uint32_t(dtype::q6_k)) return dtype(code);  // GGUF block types
  return code == 1 ? dtype::f16 : code == 2 ? dtype::bf16 : dtype::f32;
}

result config_parse(Napi::Object c, model_config* cfg) {
  cfg->vocab = int(num(c, "vocab")); cfg->hidden = int(num(c, "hidden")); cfg->n_layer = int(num(c, "nLayer"));
  cfg->n_head = int(num(c, "nHead")); cfg->n_kv_head = int(num(c, "nKvHead")); cfg->head_dim = int(num(c, "headDim"));
  cfg->inter = int(num(c, "inter")); cfg->eps = float(num(c, "eps")); cfg->rope_theta = float(num(c, "ropeTheta"));
  cfg->tied = c.Get("tied").ToBoolean().Value();
  if (c.Get("ropeDim").IsNumber()) cfg->rope_dim = int(num(c, "ropeDim"));
  if (c.Get("arch").IsString()) cfg->arch = c.Get("arch").ToString().Utf8Value();
  if (c.Get("weightPrefix").IsString()) cfg->weight_prefix = c.Get("weightPrefix").ToString().Utf8Value();
  cfg->layers.assign(size_t(std::max(cfg->n_layer, 0)), layer_kind{});
  if (c.Has("moe") && c.Get("moe").IsObject()) {
    Napi::Object moe = c.Get("moe").As<Napi::Object>();
    cfg->n_expert = int(num(moe, "nExpert")); cfg->n_expert_used = int(num(moe, "nExpertUsed"));
    cfg->moe_inter = int(num(moe, "moeInter")); cfg->norm_topk = moe.Get("normTopk").ToBoolean().Value();
    if (moe.Get("gating").IsString()) {
      const std::string g = moe.Get("gating").ToString().Utf8Value();
      if (g == "sigmoid") cfg->gating = moe_gating::sigmoid;
      else if (g != "softmax") return result::fail(status::unsupported, "MoE gating '" + g + "' (softmax or sigmoid)");
    }
    if (!moe.Get("layers").IsArray()) return result::fail(status::argument_error, "config.moe.layers must be an array");
    Napi::Array layers = moe.Get("layers").As<Napi::Array>();
    if (layers.Length() != uint32_t(cfg->layers.size()))
      return result::fail(status::unsupported, "invalid MoE dimensions (need 1 <= experts per token <= experts, moe_inter > 0, one flag per layer)");
    for (uint32_t i = 0; i < layers.Length(); i++)
      if (layers.Get(i).ToBoolean().Value()) cfg->layers[i].ffn = ffn_kind::moe;
  }
  if (c.Has("layerTypes") && !c.Get("layerTypes").IsUndefined()) {
    if (!c.Get("layerTypes").IsArray()) return result::fail(status::argument_error, "config.layerTypes must be an array");
    Napi::Array types = c.Get("layerTypes").As<Napi::Array>();
    if (types.Length() != uint32_t(cfg->layers.size()))
      return result::fail(status::argument_error, "config.layerTypes must name one type per layer");
    for (uint32_t i = 0; i < types.Length(); i++) {
      const std::string t = types.Get(i).ToString().Utf8Value();
      if (t == "linear_attention") cfg->layers[i].mixer = mixer_kind::linear_attention;
      else if (t != "full_attention")
        return result::fail(status::unsupported, "layer " + std::to_string(i) + " has type '" + t + "' (full_attention or linear_attention)");
    }
  }
  if (c.Has("linearAttention") && c.Get("linearAttention").IsObject()) {
    Napi::Object la = c.Get("linearAttention").As<Napi::Object>();
    cfg->linear.conv_kernel = int(num(la, "convKernel"));
    cfg->linear.n_k_head = int(num(la, "nKeyHeads")); cfg->linear.n_v_head = int(num(la, "nValueHeads"));
    cfg->linear.head_k_dim = int(num(la, "keyHeadDim")); cfg->linear.head_v_dim = int(num(la, "valueHeadDim"));
  }
  return result::ok();
}

result options_parse(Napi::Object o, engine_options* opt) {
  opt->threads = int(num(o, "threads")); opt->max_tokens = int(num(o, "maxTokens"));
  opt->portable = o.Get("portable").ToBoolean().Value();
  if (o.Get("kernels").IsString()) opt->kernels = o.Get("kernels").ToString().Utf8Value();
  opt->int8 = o.Get("int8").ToBoolean().Value();
  opt->bf16_activations = o.Get("bf16Activations").ToBoolean().Value();
  return result::ok();
}

result tensors_parse(Napi::Array arr, std::vector<tensor_desc>* tensors) {
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Object t = arr.Get(i).As<Napi::Object>();
    tensor_desc d;
    d.name = t.Get("name").ToString().Utf8Value();
    d.file = t.Get("file").ToString().Utf8Value();
    d.offset = size_t(num(t, "offset"));
    d.nbytes = size_t(num(t, "nbytes"));
    d.type = dtype_from_code(t.Get("dtype").ToNumber().Uint32Value());
    Napi::Array shape = t.Get("shape").As<Napi::Array>();
    for (uint32_t j = 0; j < shape.Length(); j++) d.shape.push_back(int64_t(shape.Get(j).ToNumber().DoubleValue()));
    Napi::Value data = t.Get("data");
    if (data.IsTypedArray()) {
      Napi::Uint8Array bytes = data.As<Napi::Uint8Array>();
      if (bytes.ByteLength() != d.nbytes || d.offset != 0)
        return result::fail(status::argument_error, "tensor " + d.name + ": data of " + std::to_string(bytes.ByteLength()) + " bytes, nbytes " + std::to_string(d.nbytes));
      if (!d.data.copy_from(bytes.Data(), bytes.ByteLength()))
        return result::fail(status::load_error, "cannot allocate " + std::to_string(d.nbytes) + " bytes for tensor " + d.name);
    }
    tensors->push_back(std::move(d));
  }
  return result::ok();
}

}  // namespace resident
