{
  "targets": [
    {
      "target_name": "resident_engine",
      "sources": [
        "engine/native/addon.cpp",
        "engine/native/alloc-counter.cpp",
        "engine/native/attention.cpp",
        "engine/native/bandwidth.cpp",
        "engine/native/delta-net.cpp",
        "engine/native/delta-net-avx2.cpp",
        "engine/native/delta-net-avx512.cpp",
        "engine/native/delta-net-hook.cpp",
        "engine/native/delta-net-portable.cpp",
        "engine/native/kernels-avx2.cpp",
        "engine/native/kernels-avx512.cpp",
        "engine/native/kernels-avx512-bf16.cpp",
        "engine/native/kernels-avx512-rows.cpp",
        "engine/native/kernels-portable.cpp",
        "engine/native/kv-slot.cpp",
        "engine/native/model-load.cpp",
        "engine/native/moe.cpp",
        "engine/native/ops.cpp",
        "engine/native/quantize.cpp",
        "engine/native/qwen3.cpp",
        "engine/native/thread-pool.cpp",
        "engine/native/weight-arena.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-O2"],
      "cflags!": ["-O2"],
      "ldflags": ["-Wl,-Bsymbolic"]
    }
  ]
}
