// Stands for NVIDIA's libcuda.so.1 in the dlsym tests: the same entry points answering "foreign",
// one gpupool does not export, and a name that is not a driver entry point.
extern "C" {
__attribute__((visibility("default"))) int cuInit(unsigned) {
  return 999;
}
__attribute__((visibility("default"))) int cuDriverGetVersion(int* version) {
  *version = 1;
  return 999;
}
__attribute__((visibility("default"))) int cuForeignOnly(unsigned) {
  return 998;
}
__attribute__((visibility("default"))) int foreign_only_symbol(unsigned) {
  return 997;
}
}
