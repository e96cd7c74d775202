"""What a stack creates: Pulumi ComponentResources only, fed by planning/ and rendering/."""
