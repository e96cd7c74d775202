"""What a stack decides: typed config (config.py), stack files (stack_files.py), the plan of derived numbers (plan.py, sizing.py). Pure; imports only facts/."""
