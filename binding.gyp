{
  "targets": [
    {
      "target_name": "resident_engine",
      "sources": [
        "engine/native/addon/args.cpp",
        "engine/native/addon/delta-net-hook.cpp",
        "engine/native/addon/memory-probe.cpp",
        "engine/native/addon/model-wrap.cpp",
        "engine/native/addon/module.cpp",
        "engine/native/addon/promise-worker.cpp",
        "engine/native/addon/slot-wrap.cpp",
        "engine/native/addon/test-hooks.cpp",
        "engine/native/alloc-counter.cpp",
        "engine/native/attention.cpp",
        "engine/native/bandwidth.cpp",
        "engine/native/blocks.cpp",
        "engine/native/delta-net.cpp",
        "engine/native/delta-net-avx2.cpp",
        "engine/native/delta-net-avx512.cpp",
        "engine/native/delta-net-portable.cpp",
        "engine/native/forward.cpp",
        "engine/native/kernels-avx2.cpp",
        "engine/native/kernels-avx512.cpp",
        "engine/native/kernels-avx512-bf16.cpp",
        "engine/native/kernels-avx512-rows.cpp",
        "engine/native/kernels-portable.cpp",
        "engine/native/matmul.cpp",
        "engine/native/model-load.cpp",
        "engine/native/models/architectures.cpp",
        "engine/native/models/qwen3.cpp",
        "engine/native/models/qwen35.cpp",
        "engine/native/models/minimax-m2.cpp",
        "engine/native/moe.cpp",
        "engine/native/quantize.cpp",
        "engine/native/state-slot.cpp",
        "engine/native/thread-pool.cpp",
        "engine/native/weight-arena.cpp",
        "engine/native/weight-store.cpp"
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
