// Parameter structs of driver_kernels.cu, shared with driver_launch.cpp so both sides agree on the
// C layout whose bytes the test compares.
#pragma once

struct Small {
  char c;
  short s;
  int i;
};
struct Mixed {
  char c;
  double d;
  float f[3];
};
