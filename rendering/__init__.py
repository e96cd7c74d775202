"""What a stack renders as plain data: flags, pod template, labels, PromQL, dashboard. Pure; imports planning/ and facts/, never components/."""
