ports = ["25", "smtp"] # ERROR: Invalid value for variable
