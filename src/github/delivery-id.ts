/** GitHub's delivery ids (X-GitHub-Delivery) are GUIDs; anything far off that shape is refused before it reaches SQL. */
const DELIVERY_ID = /^[A-Za-z0-9-]{1,100}$/;

export function isDeliveryId(id: unknown): id is string {
  return typeof id === "string" && DELIVERY_ID.test(id);
}
