"""What a stack decides: typed config (config.py), stack files (stack_files.py), the plan of derived numbers (plan.py composing its steps, each with its arithmetic). Pure; imports only facts/."""
