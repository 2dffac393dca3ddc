"""Search: the hotel catalogue (cities, hotels, room types) and its queries."""
