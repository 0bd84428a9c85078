// The second definition of layered_value (layer_a.cpp). The probe calls layer_b_loaded so that the
// linker keeps this library (the build links with --as-needed).
extern "C" {
__attribute__((visibility("default"))) int layered_value() {
  return 2;
}
__attribute__((visibility("default"))) int layer_b_loaded() {
  return 1;
}
}
