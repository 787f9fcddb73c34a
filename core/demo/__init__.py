"""The bundled demo data: generated movie and music KG pairs with planted hard cases. May import core.data and core.formats."""
