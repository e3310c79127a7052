// goro/goro.hpp — everything goro offers, in one include.
#pragma once

#include <goro/runtime.hpp>
