// Module entry: exports the TensorHandle class and every op registered by native/api/*.cc.
#include <napi.h>

#include "binding.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  vj::register_all(env, exports);
  vj::init_handles(env, exports);  // after the ops: the handle class calls tensorShape & co.
  return exports;
}

NODE_API_MODULE(vjepa, Init)
