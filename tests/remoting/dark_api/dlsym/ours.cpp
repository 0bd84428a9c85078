// Stands for gpupool's libcuda.so.1 in the dlsym tests: the interposed dlsym plus two driver
// entry points whose answers say "gpupool".
extern "C" {
__attribute__((visibility("default"))) int cuInit(unsigned) {
  return 0;
}
__attribute__((visibility("default"))) int cuDriverGetVersion(int* version) {
  *version = 4242;
  return 0;
}
}
