-- Installed once by the DBA on each database `temporary-db-role` grants on, as a role
-- that may grant the listed roles (their owner, or one WITH ADMIN OPTION). The worker's
-- connection needs only EXECUTE on these two functions.
--
-- GRANT and REVOKE take identifiers, which bind parameters cannot carry: the functions
-- quote them with format('%I'), accept only roles the DBA listed, and record whether the
-- login already had the role directly, so the revoke never removes a membership the
-- grant did not give.
create schema if not exists clutch_luigi;

create or replace function clutch_luigi.grant_role(p_role text, p_login text) returns boolean
language plpgsql security definer set search_path = pg_catalog as $$
begin
  if p_role not in ('orders_read', 'payments_read', 'analytics_read') then
    raise exception 'role % may not be granted temporarily', p_role using errcode = '42501';
  end if;
  if not exists (select 1 from pg_roles where rolname = p_login and rolcanlogin) then
    raise exception 'no login %', p_login using errcode = '42704';
  end if;
  if exists (select 1 from pg_auth_members m join pg_roles r on r.oid = m.roleid join pg_roles u on u.oid = m.member
             where r.rolname = p_role and u.rolname = p_login) then
    return false; -- already a member: nothing granted, nothing to revoke later
  end if;
  execute format('grant %I to %I', p_role, p_login);
  return true;
end $$;

create or replace function clutch_luigi.revoke_role(p_role text, p_login text, p_granted boolean) returns boolean
language plpgsql security definer set search_path = pg_catalog as $$
begin
  if p_role not in ('orders_read', 'payments_read', 'analytics_read') then
    raise exception 'role % may not be revoked here', p_role using errcode = '42501';
  end if;
  if not coalesce(p_granted, false) then
    return false; -- the grant found the membership in place: leave it
  end if;
  execute format('revoke %I from %I', p_role, p_login);
  return true;
end $$;

revoke all on function clutch_luigi.grant_role(text, text) from public;
revoke all on function clutch_luigi.revoke_role(text, text, boolean) from public;
-- grant execute on function clutch_luigi.grant_role(text, text), clutch_luigi.revoke_role(text, text, boolean) to clutch_luigi_worker;
