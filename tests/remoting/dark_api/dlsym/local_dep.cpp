// Only in the local scope of local_user (dlopen-ed RTLD_LOCAL), never in the global one.
extern "C" {
__attribute__((visibility("default"))) int local_only_value() {
  return 7;
}
__attribute__((visibility("default"))) int local_dep_loaded() {
  return 1;
}
}
