"""The bundled sample project: street footage, its edit and a procedurally generated sound library."""
