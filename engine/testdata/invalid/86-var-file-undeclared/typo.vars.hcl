domain = "example.com"
domian = "example.com" # ERROR: Value for undeclared variable
