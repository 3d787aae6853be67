#pragma once
// Umbrella header of the embed library.
#include "embed/error.hpp"
#include "embed/model.hpp"
#include "embed/tokenizer.hpp"
