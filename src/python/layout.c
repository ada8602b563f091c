/* Python layer: picks the generated offset records (layouts_gen.c,
 * async_layouts_gen.c) for a MAJOR.MINOR version. Holds no offsets itself
 * and never guesses: a version without a record gets NULL. */
#include "python/async_layout.h"
#include "python/layout.h"

static unsigned hex_major(uint32_t version_hex)
{
	return version_hex >> 24;
}

static unsigned hex_minor(uint32_t version_hex)
{
	return (version_hex >> 16) & 0xff;
}

const struct py_layout *py_layout_find(unsigned major, unsigned minor)
{
	for (size_t i = 0; i < py_layouts_count; i++) {
		const struct py_layout *layout = &py_layouts[i];

		if (hex_major(layout->version_hex) == major && hex_minor(layout->version_hex) == minor)
			return layout;
	}
	return NULL;
}

const struct py_debug_offsets_layout *py_debug_offsets_layout_find(unsigned major, unsigned minor)
{
	for (size_t i = 0; i < py_debug_offsets_layouts_count; i++) {
		const struct py_debug_offsets_layout *layout = &py_debug_offsets_layouts[i];

		if (hex_major(layout->version_hex) == major && hex_minor(layout->version_hex) == minor)
			return layout;
	}
	return NULL;
}

const struct py_async_layout *py_async_layout_find(unsigned major, unsigned minor)
{
	for (size_t i = 0; i < py_async_layouts_count; i++) {
		const struct py_async_layout *layout = &py_async_layouts[i];

		if (hex_major(layout->version_hex) == major && hex_minor(layout->version_hex) == minor)
			return layout;
	}
	return NULL;
}

const struct py_asyncio_debug_layout *py_asyncio_debug_layout_find(unsigned major, unsigned minor)
{
	for (size_t i = 0; i < py_asyncio_debug_layouts_count; i++) {
		const struct py_asyncio_debug_layout *layout = &py_asyncio_debug_layouts[i];

		if (hex_major(layout->version_hex) == major && hex_minor(layout->version_hex) == minor)
			return layout;
	}
	return NULL;
}
