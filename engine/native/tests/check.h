// CHECK for the standalone native test programs (tests/*-test.cpp): prints a failed condition and counts it.
#pragma once
#include <cstdio>

static int failures = 0;
#define CHECK(c)                                                        \
  do {                                                                  \
    if (!(c)) {                                                         \
      std::printf("%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                                       \
    }                                                                   \
  } while (0)
