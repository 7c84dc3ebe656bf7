// Module entry: exports the TensorHandle class and every op registered by native/api/*.cc.
#include <napi.h>

#include "binding.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TensorHandle", vj::TensorHandle::Init(env));
  vj::register_all(env, exports);
  return exports;
}

NODE_API_MODULE(vjepa, Init)
