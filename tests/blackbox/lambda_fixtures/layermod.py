VALUE = "layer-ok"
