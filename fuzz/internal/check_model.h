// What `wring check` does with a model it managed to read: CheckRecipe, then
// the text and JSON reports. The model-reading fuzz targets run it on every
// model their parser accepts, so a crash anywhere downstream of a parser
// (linearization, matching, AWQ and SpinQuant resolution, rendering) on
// input the parser let through is found too.
#ifndef WRING_FUZZ_INTERNAL_CHECK_MODEL_H_
#define WRING_FUZZ_INTERNAL_CHECK_MODEL_H_

#include "mapping/model/model_input.h"
#include "mapping/proto/recipe.pb.h"

namespace wring {
namespace fuzz {

// `recipe` null: wring's default recipe (AWQ + W4A16), as `wring check`
// without --recipe.
void CheckAndRender(mapping::ModelInput model, const recipe::Recipe* recipe = nullptr);

}  // namespace fuzz
}  // namespace wring

#endif  // WRING_FUZZ_INTERNAL_CHECK_MODEL_H_
