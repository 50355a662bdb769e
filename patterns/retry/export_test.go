package grelretry

import grelconfig "github.com/grelmicro/grelmicro-go/fxgrel/config"

// WithAlgorithmSetting exposes the algorithm setting to the fuzz target.
func WithAlgorithmSetting(a Algorithm) grelconfig.Setting[Config] { return algorithmField.Set(a) }
